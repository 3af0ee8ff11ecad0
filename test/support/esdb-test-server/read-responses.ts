import type { ServerWritableStream } from '@grpc/grpc-js';
import { StreamIdentifier } from '@eventstore/db-client/generated/shared_pb';
import { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { EventRecord, LogPosition } from './event-log';
import { uuidToDto, type UuidFormat } from './uuid';

export type ReadCall = ServerWritableStream<ReadReq, ReadResp>;

export function streamIdentifier(streamId: string): StreamIdentifier {
  return new StreamIdentifier().setStreamName(Buffer.from(streamId, 'utf8'));
}

export function streamNameOf(identifier: StreamIdentifier | undefined): string {
  const name = identifier?.getStreamName() ?? '';
  return typeof name === 'string'
    ? Buffer.from(name, 'base64').toString('utf8')
    : Buffer.from(name).toString('utf8');
}

/**
 * An event as `Enumerators.ConvertToReadEvent` sends it: metadata `type`, `created` (ticks) and
 * `content-type` (from the stored is-json flag), data and custom metadata byte for byte, and the
 * event's own position as commit and prepare position, for stream reads as for $all reads.
 */
export function eventResponse(record: EventRecord, uuidFormat: UuidFormat): ReadResp {
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
    .setId(uuidToDto(record.id, uuidFormat))
    .setStreamIdentifier(streamIdentifier(record.streamId))
    .setStreamRevision(String(record.revision))
    .setCommitPosition(record.position.toString())
    .setPreparePosition(record.position.toString())
    .setData(record.data)
    .setCustomMetadata(record.metadata);
  recorded
    .getMetadataMap()
    .set('type', record.type)
    .set('created', record.created.toString())
    .set('content-type', record.isJson ? 'application/json' : 'application/octet-stream');
  const event = new ReadResp.ReadEvent()
    .setEvent(recorded)
    .setCommitPosition(record.position.toString());
  return new ReadResp().setEvent(event);
}

export function uuidFormatOf(options: ReadReq.Options): UuidFormat {
  return options.getUuidOption()?.hasString() ? 'string' : 'structured';
}

export function confirmationResponse(subscriptionId: string): ReadResp {
  return new ReadResp().setConfirmation(
    new ReadResp.SubscriptionConfirmation().setSubscriptionId(subscriptionId),
  );
}

export function checkpointResponse(position: LogPosition): ReadResp {
  return new ReadResp().setCheckpoint(
    new ReadResp.Checkpoint()
      .setCommitPosition(position.commit.toString())
      .setPreparePosition(position.prepare.toString()),
  );
}

export function caughtUpResponse(): ReadResp {
  return new ReadResp().setCaughtUp(new ReadResp.CaughtUp());
}

export function fellBehindResponse(): ReadResp {
  return new ReadResp().setFellBehind(new ReadResp.FellBehind());
}

export function streamNotFoundResponse(streamId: string): ReadResp {
  return new ReadResp().setStreamNotFound(
    new ReadResp.StreamNotFound().setStreamIdentifier(streamIdentifier(streamId)),
  );
}

/** Thrown out of a read loop once the client has gone; the loop just stops. */
export class CallGone extends Error {}

/**
 * Writes to a server stream with backpressure: waits for `drain` when the stream's buffer is
 * full, and throws CallGone once the call is cancelled (client cancel, deadline, lost connection).
 */
export class ResponseWriter {
  private gone = false;
  private readonly goneWaiters = new Set<() => void>();

  constructor(private readonly call: ReadCall) {
    const markGone = () => {
      this.gone = true;
      for (const wake of this.goneWaiters) wake();
      this.goneWaiters.clear();
    };
    call.on('cancelled', markGone);
    call.on('close', markGone);
    call.on('error', markGone);
  }

  get isGone(): boolean {
    return this.gone || this.call.cancelled;
  }

  async write(response: ReadResp): Promise<void> {
    if (this.isGone) throw new CallGone();
    if (!this.call.write(response)) await this.until((wake) => this.call.once('drain', wake));
    if (this.isGone) throw new CallGone();
  }

  /** Resolves when `arm`'s callback fires or the call goes, whichever is first. */
  async until(arm: (wake: () => void) => void): Promise<void> {
    if (this.isGone) throw new CallGone();
    await new Promise<void>((resolve) => {
      const wake = () => {
        this.goneWaiters.delete(wake);
        resolve();
      };
      this.goneWaiters.add(wake);
      arm(wake);
    });
    if (this.isGone) throw new CallGone();
  }

  end(): void {
    if (!this.isGone) this.call.end();
  }
}
