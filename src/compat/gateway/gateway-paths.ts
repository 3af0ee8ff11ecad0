/**
 * The seed gateway's HTTP paths (go-im-gateway-api.md) that answer in its envelope
 * `{ code, error, data }`: every `/inner/…` operation and the public conversation and message
 * operations.
 */
export const GATEWAY_PUBLIC_PATHS: ReadonlySet<string> = new Set([
  '/send_msg',
  '/check_joined_conversation',
  '/get_joined_conversation',
  '/get_conversation_detail',
  '/join_conversation',
  '/create_conversation',
  '/leave_conversation',
  '/get_lastone_msgid',
  '/get_conversation_msg_by_range',
  '/get_conversation_30msg_before_the_id',
  '/get_conversation_30msg_after_the_id',
  '/get_conversation_last_30_msg',
  '/get_conversation_lastone_msg',
]);

/** Endpoints that speak the seed gateway's envelope. */
export function isGatewayPath(path: string): boolean {
  return path.startsWith('/inner/') || GATEWAY_PUBLIC_PATHS.has(path);
}
