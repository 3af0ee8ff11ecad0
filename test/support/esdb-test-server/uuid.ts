import { UUID } from '@eventstore/db-client/generated/shared_pb';

/**
 * EventStoreDB's two wire forms of a UUID. The structured form carries the canonical (RFC 4122
 * string order) bytes as two signed 64-bit halves, most significant first, which is what the
 * server's `Uuid.ToDto()` sends and what the Node client's `parseUUID` turns back into a string.
 */
export type UuidFormat = 'string' | 'structured';

const HEX_UUID = /^[0-9a-f]{32}$/;

/** The canonical lower-case string of a UUID received on the wire; throws on a malformed one. */
export function uuidFromDto(dto: UUID | undefined): string {
  if (!dto) throw new Error('missing UUID');
  if (dto.hasStructured()) {
    const structured = dto.getStructured()!;
    const msb = BigInt.asUintN(64, BigInt(structured.getMostSignificantBits()));
    const lsb = BigInt.asUintN(64, BigInt(structured.getLeastSignificantBits()));
    const hex = msb.toString(16).padStart(16, '0') + lsb.toString(16).padStart(16, '0');
    return formatHex(hex);
  }
  const hex = dto.getString().replace(/-/g, '').toLowerCase();
  if (!HEX_UUID.test(hex)) throw new Error(`'${dto.getString()}' is not a valid UUID`);
  return formatHex(hex);
}

/** A UUID message in the format the reader asked for (`ReadReq.Options.uuid_option`). */
export function uuidToDto(id: string, format: UuidFormat): UUID {
  const dto = new UUID();
  if (format === 'string') return dto.setString(id);
  const hex = id.replace(/-/g, '');
  const structured = new UUID.Structured()
    .setMostSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(0, 16)}`)).toString())
    .setLeastSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(16)}`)).toString());
  return dto.setStructured(structured);
}

function formatHex(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
