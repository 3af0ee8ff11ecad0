/**
 * `event_store.client.streams.Streams`: Read (reads and subscriptions), Append and BatchAppend,
 * after src/EventStore.Core/Services/Transport/Grpc/Streams.{Read,Append,BatchAppend}.cs.
 * Delete and Tombstone are not implemented (grpc-js answers UNIMPLEMENTED).
 */
import type {
  sendUnaryData,
  ServerDuplexStream,
  ServerErrorResponse,
  ServerReadableStream,
} from '@grpc/grpc-js';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty as ProtobufEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import type { IStreamsServer } from '@eventstore/db-client/generated/streams_grpc_pb';
import {
  AppendReq,
  AppendResp,
  BatchAppendReq,
  BatchAppendResp,
  ReadReq,
} from '@eventstore/db-client/generated/streams_pb';
import {
  AllStreamPosition,
  Empty,
  MaximumAppendSizeExceeded,
  Timeout,
  UUID,
  WrongExpectedVersion,
} from '@eventstore/db-client/generated/shared_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import {
  sizeOnDisk,
  type AppendResult,
  type EventLog,
  type ExpectedRevision,
  type ProposedEvent,
} from './event-log';
import { filterFromOptions, InvalidFilterError, type EventFilter } from './event-filter';
import {
  CallGone,
  eventResponse,
  ResponseWriter,
  streamIdentifier,
  streamNameOf,
  streamNotFoundResponse,
  uuidFormatOf,
  type ReadCall,
} from './read-responses';
import {
  handlerFailed,
  invalidArgument,
  maxAppendSizeExceeded,
  requiredMetadataPropertyMissing,
} from './rpc-errors';
import {
  subscribeToAll,
  subscribeToStream,
  type AllStart,
  type StreamStart,
} from './subscriptions';
import { uuidFromDto, type UuidFormat } from './uuid';

export interface StreamsServiceOptions {
  readonly maxAppendBytes: number;
  /** A BatchAppend write not completed within this time is answered with a timeout. */
  readonly writeTimeoutMs: number;
}

const { StreamOptionCase, ReadDirection } = ReadReq.Options;

type StreamsHandlers = Pick<IStreamsServer, 'read' | 'append' | 'batchAppend'>;

export function streamsService(log: EventLog, options: StreamsServiceOptions): StreamsHandlers {
  return {
    read: (call: ReadCall) => {
      const writer = new ResponseWriter(call);
      read(log, call.request, writer).then(
        () => writer.end(),
        (error: unknown) => {
          if (error instanceof CallGone || writer.isGone) return;
          call.emit('error', asServiceError(error));
        },
      );
    },
    append: (call, callback) => append(log, options, call, callback),
    batchAppend: (call) => batchAppend(log, options, call),
  };
}

async function read(log: EventLog, request: ReadReq, writer: ResponseWriter): Promise<void> {
  const options = request.getOptions();
  if (!options) throw handlerFailed('ReadReq without options');
  const uuidFormat = uuidFormatOf(options);
  const backwards = options.getReadDirection() === ReadDirection.BACKWARDS;
  const subscription = options.hasSubscription();
  const filter = options.hasFilter() ? filterFromOptions(options.getFilter()!) : undefined;
  const count = options.hasCount() ? clampCount(options.getCount()) : Number.MAX_SAFE_INTEGER;

  switch (options.getStreamOptionCase()) {
    case StreamOptionCase.STREAM: {
      // Streams.Read has no enumerator for filtered stream reads nor backward subscriptions.
      if (filter || (subscription && backwards)) throw handlerFailed('invalid read options');
      const stream = options.getStream()!;
      const streamId = streamNameOf(stream.getStreamIdentifier());
      const start: StreamStart = stream.hasStart()
        ? 'start'
        : stream.hasEnd()
          ? 'end'
          : BigInt(stream.getRevision());
      if (subscription) return subscribeToStream(log, writer, uuidFormat, streamId, start);
      return readStream(log, writer, streamId, start, backwards, count, uuidFormat);
    }
    case StreamOptionCase.ALL: {
      if (subscription && backwards) throw handlerFailed('invalid read options');
      const all = options.getAll()!;
      const position = all.getPosition();
      const start: AllStart = all.hasStart()
        ? 'start'
        : all.hasEnd() || !position
          ? 'end'
          : {
              commit: BigInt(position.getCommitPosition()),
              prepare: BigInt(position.getPreparePosition()),
            };
      if (subscription) return subscribeToAll(log, writer, uuidFormat, start, filter);
      return readAll(log, writer, start, backwards, count, filter, uuidFormat);
    }
    default:
      throw handlerFailed('ReadReq without stream or $all options');
  }
}

/** Enumerators.ReadStreamForwards/Backwards: `stream_not_found` for a stream without events. */
async function readStream(
  log: EventLog,
  writer: ResponseWriter,
  streamId: string,
  start: StreamStart,
  backwards: boolean,
  count: number,
  uuidFormat: UuidFormat,
): Promise<void> {
  const events = log.stream(streamId);
  if (!events) {
    await writer.write(streamNotFoundResponse(streamId));
    return;
  }
  const last = events.length - 1;
  const from =
    start === 'start'
      ? 0
      : start === 'end'
        ? backwards
          ? last
          : events.length
        : clampRevision(start);
  let sent = 0;
  if (backwards) {
    // Reading backwards from beyond the end starts at the last event.
    for (let revision = Math.min(from, last); revision >= 0 && sent < count; revision--, sent++) {
      await writer.write(eventResponse(events[revision], uuidFormat));
    }
  } else {
    for (let revision = from; revision < events.length && sent < count; revision++, sent++) {
      await writer.write(eventResponse(events[revision], uuidFormat));
    }
  }
}

/** Enumerators.ReadAllForwards/Backwards: forwards from a position inclusive, backwards exclusive. */
async function readAll(
  log: EventLog,
  writer: ResponseWriter,
  start: AllStart,
  backwards: boolean,
  count: number,
  filter: EventFilter | undefined,
  uuidFormat: UuidFormat,
): Promise<void> {
  let sent = 0;
  if (backwards) {
    let index =
      start === 'end' ? log.size - 1 : start === 'start' ? -1 : log.firstIndexAtOrAfter(start) - 1;
    for (; index >= 0 && sent < count; index--) {
      const record = log.at(index)!;
      if (filter && !filter.allows(record)) continue;
      await writer.write(eventResponse(record, uuidFormat));
      sent += 1;
    }
    return;
  }
  let index = start === 'start' ? 0 : start === 'end' ? log.size : log.firstIndexAtOrAfter(start);
  for (let record = log.at(index); record && sent < count; record = log.at(++index)) {
    if (filter && !filter.allows(record)) continue;
    await writer.write(eventResponse(record, uuidFormat));
    sent += 1;
  }
}

/** Streams.Append: options first, then the proposed messages; one answer when the client ends. */
function append(
  log: EventLog,
  options: StreamsServiceOptions,
  call: ServerReadableStream<AppendReq, AppendResp>,
  callback: sendUnaryData<AppendResp>,
): void {
  let appendOptions: AppendReq.Options | undefined;
  const events: ProposedEvent[] = [];
  let size = 0;
  let answered = false;
  const fail = (error: ServerErrorResponse) => {
    if (answered) return;
    answered = true;
    callback(error);
  };
  call.on('data', (request: AppendReq) => {
    if (answered) return;
    try {
      if (!appendOptions) {
        appendOptions = request.getOptions();
        if (!appendOptions) throw handlerFailed('the first AppendReq carries no options');
        return;
      }
      const message = request.getProposedMessage();
      if (!message) throw handlerFailed('AppendReq without a proposed message');
      const event = proposedEvent(message, true);
      size += sizeOnDisk(event);
      if (size > options.maxAppendBytes) throw maxAppendSizeExceeded(options.maxAppendBytes);
      events.push(event);
    } catch (error) {
      fail(asServiceError(error));
    }
  });
  call.on('error', () => undefined);
  call.on('end', () => {
    if (answered) return;
    if (!appendOptions) return fail(handlerFailed('Append without options'));
    const expected = expectedFromAppendOptions(appendOptions);
    const streamId = streamNameOf(appendOptions.getStreamIdentifier());
    answered = true;
    callback(null, appendResponse(log.append(streamId, expected, events), expected));
  });
}

function expectedFromAppendOptions(options: AppendReq.Options): ExpectedRevision {
  const { ExpectedStreamRevisionCase: Case } = AppendReq.Options;
  switch (options.getExpectedStreamRevisionCase()) {
    case Case.REVISION:
      return { kind: 'revision', revision: BigInt(options.getRevision()) };
    case Case.NO_STREAM:
      return { kind: 'no_stream' };
    case Case.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    case Case.ANY:
    default:
      return { kind: 'any' };
  }
}

/**
 * Streams.Append's answer. A wrong expected version is a normal response, not an error status;
 * both the current fields and the deprecated 20.6.0 ones are filled, as current servers do,
 * except the 20.6.0 `expected_revision = ulong.MaxValue` for no_stream, which a JS number cannot
 * carry exactly (no client reads it).
 */
function appendResponse(result: AppendResult, expected: ExpectedRevision): AppendResp {
  switch (result.kind) {
    case 'written':
    case 'idempotent': {
      const success = new AppendResp.Success();
      if (result.currentRevision < 0) success.setNoStream(new Empty());
      else success.setCurrentRevision(String(result.currentRevision));
      success.setPosition(
        new AppendResp.Position()
          .setCommitPosition(result.position.toString())
          .setPreparePosition(result.position.toString()),
      );
      return new AppendResp().setSuccess(success);
    }
    case 'wrong_expected_version': {
      const wrong = new AppendResp.WrongExpectedVersion();
      switch (expected.kind) {
        case 'any':
          wrong.setExpectedAny(new Empty()).setAny2060(new Empty());
          break;
        case 'stream_exists':
          wrong.setExpectedStreamExists(new Empty()).setStreamExists2060(new Empty());
          break;
        case 'no_stream':
          wrong.setExpectedNoStream(new Empty());
          break;
        case 'revision':
          wrong.setExpectedRevision(expected.revision.toString());
          if (expected.revision <= BigInt(Number.MAX_SAFE_INTEGER)) {
            wrong.setExpectedRevision2060(Number(expected.revision));
          }
          break;
        default: {
          const unreachable: never = expected;
          return unreachable;
        }
      }
      if (result.currentRevision < 0) {
        wrong.setCurrentNoStream(new Empty()).setNoStream2060(new Empty());
      } else {
        wrong
          .setCurrentRevision(String(result.currentRevision))
          .setCurrentRevision2060(result.currentRevision);
      }
      return new AppendResp().setWrongExpectedVersion(wrong);
    }
    default: {
      const unreachable: never = result;
      return unreachable;
    }
  }
}

interface PendingBatch {
  readonly correlationId: UUID;
  readonly streamId: string;
  readonly expected: ExpectedRevision;
  readonly events: ProposedEvent[];
  size: number;
  readonly timer: NodeJS.Timeout;
}

/**
 * Streams.BatchAppend: one long-lived bidirectional call carries many writes, each identified by
 * a correlation id, sent in chunks (options with the first, `is_final` on the last). Every write
 * gets one BatchAppendResp; failures travel as a google.rpc.Status with packed details.
 */
function batchAppend(
  log: EventLog,
  options: StreamsServiceOptions,
  call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>,
): void {
  const pending = new Map<string, PendingBatch>();
  const respond = (
    batch: Pick<PendingBatch, 'correlationId' | 'streamId'>,
    fill: (r: BatchAppendResp) => void,
  ) => {
    const response = new BatchAppendResp()
      .setCorrelationId(batch.correlationId)
      .setStreamIdentifier(streamIdentifier(batch.streamId));
    fill(response);
    if (!call.cancelled && call.writable) call.write(response);
  };
  const forget = (key: string) => {
    const batch = pending.get(key);
    if (batch) clearTimeout(batch.timer);
    pending.delete(key);
    return batch;
  };

  call.on('data', (request: BatchAppendReq) => {
    const correlationId = request.getCorrelationId() ?? new UUID();
    let key: string;
    try {
      key = uuidFromDto(correlationId);
    } catch {
      return;
    }
    const requestOptions = request.getOptions();
    try {
      if (requestOptions) {
        const streamId = streamNameOf(requestOptions.getStreamIdentifier());
        const deadline =
          requestOptions.getDeadline()?.toDate().getTime() ?? Number.POSITIVE_INFINITY;
        const timeoutMs = Math.min(deadline - Date.now(), options.writeTimeoutMs);
        if (timeoutMs <= 0) {
          respond({ correlationId, streamId }, (r) => r.setError(timeoutStatus()));
          return;
        }
        if (!pending.has(key)) {
          const timer = setTimeout(() => {
            const batch = forget(key);
            if (batch) respond(batch, (r) => r.setError(timeoutStatus()));
          }, timeoutMs);
          timer.unref();
          pending.set(key, {
            correlationId,
            streamId,
            expected: expectedFromBatchOptions(requestOptions),
            events: [],
            size: 0,
            timer,
          });
        }
      }
      const batch = pending.get(key);
      if (!batch) return;
      for (const message of request.getProposedMessagesList()) {
        const event = proposedEvent(message, false);
        batch.size += sizeOnDisk(event);
        batch.events.push(event);
      }
      if (batch.size > options.maxAppendBytes) {
        forget(key);
        respond(batch, (r) => r.setError(maximumAppendSizeExceededStatus(options.maxAppendBytes)));
        return;
      }
      if (!request.getIsFinal()) return;
      forget(key);
      const result = log.append(batch.streamId, batch.expected, batch.events);
      respond(batch, (r) => fillBatchResult(r, result, batch.expected));
    } catch (error) {
      const batch = forget(key);
      const streamId = batch?.streamId ?? streamNameOf(requestOptions?.getStreamIdentifier());
      const message = error instanceof Error ? error.message : String(error);
      respond({ correlationId, streamId }, (r) => r.setError(badRequestStatus(message)));
    }
  });
  const stop = () => {
    for (const key of [...pending.keys()]) forget(key);
  };
  call.on('end', () => {
    stop();
    call.end();
  });
  call.on('cancelled', stop);
  call.on('error', stop);
}

function expectedFromBatchOptions(options: BatchAppendReq.Options): ExpectedRevision {
  const { ExpectedStreamPositionCase: Case } = BatchAppendReq.Options;
  switch (options.getExpectedStreamPositionCase()) {
    case Case.STREAM_POSITION:
      return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
    case Case.NO_STREAM:
      return { kind: 'no_stream' };
    case Case.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    case Case.ANY:
    default:
      return { kind: 'any' };
  }
}

function fillBatchResult(
  response: BatchAppendResp,
  result: AppendResult,
  expected: ExpectedRevision,
): void {
  switch (result.kind) {
    case 'written':
    case 'idempotent': {
      const success = new BatchAppendResp.Success();
      if (result.currentRevision < 0) success.setNoStream(new ProtobufEmpty());
      else success.setCurrentRevision(String(result.currentRevision));
      success.setPosition(
        new AllStreamPosition()
          .setCommitPosition(result.position.toString())
          .setPreparePosition(result.position.toString()),
      );
      response.setSuccess(success);
      return;
    }
    case 'wrong_expected_version': {
      // Status.WrongExpectedVersion: ALREADY_EXISTS with event_store.client.WrongExpectedVersion.
      const details = new WrongExpectedVersion();
      if (result.currentRevision < 0) details.setCurrentNoStream(new ProtobufEmpty());
      else details.setCurrentStreamRevision(String(result.currentRevision));
      switch (expected.kind) {
        case 'any':
          details.setExpectedAny(new ProtobufEmpty());
          break;
        case 'no_stream':
          details.setExpectedNoStream(new ProtobufEmpty());
          break;
        case 'stream_exists':
          details.setExpectedStreamExists(new ProtobufEmpty());
          break;
        case 'revision':
          details.setExpectedStreamPosition(expected.revision.toString());
          break;
        default: {
          const unreachable: never = expected;
          return unreachable;
        }
      }
      response.setError(
        packedStatus(Code.ALREADY_EXISTS, 'WrongExpectedVersion', details, 'WrongExpectedVersion'),
      );
      return;
    }
    default: {
      const unreachable: never = result;
      return unreachable;
    }
  }
}

function packedStatus(
  code: Code,
  message: string,
  details: { serializeBinary(): Uint8Array },
  typeName: string,
): Status {
  const any = new Any();
  any.pack(details.serializeBinary(), `event_store.client.${typeName}`);
  return new Status().setCode(code).setMessage(message).setDetails(any);
}

function timeoutStatus(): Status {
  return packedStatus(Code.DEADLINE_EXCEEDED, 'Timeout', new Timeout(), 'Timeout');
}

function maximumAppendSizeExceededStatus(maxAppendBytes: number): Status {
  const details = new MaximumAppendSizeExceeded().setMaxappendsize(maxAppendBytes);
  return packedStatus(
    Code.INVALID_ARGUMENT,
    'MaximumAppendSizeExceeded',
    details,
    'MaximumAppendSizeExceeded',
  );
}

function badRequestStatus(message: string): Status {
  const any = new Any();
  any.pack(new ProtobufEmpty().serializeBinary(), 'google.protobuf.Empty');
  return new Status().setCode(Code.INVALID_ARGUMENT).setMessage(message).setDetails(any);
}

/**
 * The proposed message as the server keeps it. Append rejects a message without `type` or
 * `content-type`; BatchAppend fails the write with a bad request instead.
 */
function proposedEvent(
  message: AppendReq.ProposedMessage | BatchAppendReq.ProposedMessage,
  strict: boolean,
): ProposedEvent {
  const metadata = message.getMetadataMap();
  const type = metadata.get('type');
  const contentType = metadata.get('content-type');
  if (type === undefined) {
    throw strict ? requiredMetadataPropertyMissing('type') : new Error('missing type');
  }
  if (contentType === undefined) {
    throw strict
      ? requiredMetadataPropertyMissing('content-type')
      : new Error('missing content-type');
  }
  return {
    id: uuidFromDto(message.getId()),
    type,
    isJson: contentType === 'application/json',
    data: message.getData_asU8(),
    metadata: message.getCustomMetadata_asU8(),
  };
}

function asServiceError(error: unknown): ServerErrorResponse {
  if (error instanceof InvalidFilterError) return invalidArgument(error.message);
  if (error instanceof Error && 'code' in error) return error as ServerErrorResponse;
  return handlerFailed(error instanceof Error ? error.message : String(error));
}

function clampCount(count: string): number {
  const value = BigInt(count);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

function clampRevision(revision: bigint): number {
  return revision > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(revision);
}
