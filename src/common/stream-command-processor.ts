import {
  DuplicateEventIdError,
  EventStoreUnavailableError,
  EventData,
  EventMetadata,
  EventStore,
  Position,
  RecordedEvent,
  WrongExpectedVersionError,
} from '../event-store/event-store.port';
import { Lru } from './lru';
import { Errors } from './errors';

/** A new event as a decider emits it: type and data; the processor adds id and metadata. */
export interface NewEvent {
  readonly type: string;
  readonly data: unknown;
}

export interface Decision<R> {
  readonly events: readonly NewEvent[];
  readonly result: R;
}

/**
 * The pure part of an aggregate, as the processor needs it. `decide` and `evolve` do no I/O;
 * whatever varies (time, generated ids) is inside the command.
 */
export interface StreamDecider<S, C, R> {
  initialState(): S;
  evolve(state: S, event: NewEvent): S;
  decide(command: C, state: S): Decision<R>;
  /**
   * The event id of the `index`-th event the command produces. Deterministic from the command
   * where a client may retry it (a send's dev_id), so the store can recognise the retry.
   */
  eventId(command: C, index: number): string;
  /** The result of a command whose events the store already had (a retry). */
  resultOfStored(command: C, events: readonly RecordedEvent[]): R;
  /**
   * When set, a stream not in the cache is loaded from its last `tailWindow` events only: the
   * state must depend on no more than that suffix (a conversation needs its last seqno and its
   * recent dev_ids, not a million messages).
   */
  readonly tailWindow?: number;
}

export interface Executed<R> {
  readonly result: R;
  /** Position of the command's last event, or null when it wrote nothing. */
  readonly position: Position | null;
}

interface Pending<C, R> {
  readonly command: C;
  readonly metadata: EventMetadata;
  readonly resolve: (value: Executed<R>) => void;
  readonly reject: (reason: unknown) => void;
}

interface Cached<S> {
  readonly state: S;
  /** Revision of the last event folded into `state`; -1 for an empty stream. */
  readonly revision: number;
  /** When the store last confirmed `revision` was the newest (ms, monotonic enough: Date.now). */
  readonly checkedAt: number;
}

export interface ProcessorOptions {
  readonly cacheSize?: number;
  readonly maxBatch?: number;
  readonly maxAttempts?: number;
  /** Commands that may wait for one stream; more are refused (503) rather than queued. */
  readonly maxQueued?: number;
}

/**
 * Runs commands against event-sourced streams: load state (cached by revision; a cached stream is
 * appended to at its cached revision, and read again only when that append meets a newer one),
 * decide, append with the expected revision. Commands for one stream that
 * arrive while an append is in flight are decided together and appended as one batch; a conflict
 * with another node reloads the newer events and decides again, a bounded number of times.
 */
export class StreamCommandProcessor<S, C, R> {
  private readonly cache: Lru<string, Cached<S>>;
  private readonly queues = new Map<string, Pending<C, R>[]>();
  /** Loads in flight for {@link read}, by stream. */
  private readonly loading = new Map<string, { startedAt: number; state: Promise<Cached<S>> }>();
  private readonly maxBatch: number;
  private readonly maxAttempts: number;
  private readonly maxQueued: number;

  constructor(
    private readonly store: EventStore,
    private readonly decider: StreamDecider<S, C, R>,
    options: ProcessorOptions = {},
  ) {
    this.cache = new Lru(options.cacheSize ?? 10_000);
    this.maxBatch = options.maxBatch ?? 100;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.maxQueued = options.maxQueued ?? 5_000;
  }

  execute(streamId: string, command: C, metadata: EventMetadata): Promise<Executed<R>> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(streamId);
      const pending = { command, metadata, resolve, reject };
      if (queue) {
        if (queue.length >= this.maxQueued) return reject(Errors.contended(streamId));
        queue.push(pending);
        return;
      }
      this.queues.set(streamId, [pending]);
      void this.drain(streamId);
    });
  }

  /**
   * The stream's state for a check that tolerates `maxAgeMs` of staleness (another node's write
   * may be that late): answered from the cache when it was confirmed recently, else loaded.
   */
  async read(streamId: string, maxAgeMs: number): Promise<S> {
    const now = Date.now();
    const cached = this.cache.get(streamId);
    if (cached && now - cached.checkedAt <= maxAgeMs) return cached.state;
    // Concurrent checks of one stale stream share one load, if it began recently enough.
    const loading = this.loading.get(streamId);
    if (loading && now - loading.startedAt <= maxAgeMs) return (await loading.state).state;
    const state = this.load(streamId);
    const entry = { startedAt: now, state };
    this.loading.set(streamId, entry);
    try {
      return (await state).state;
    } finally {
      if (this.loading.get(streamId) === entry) this.loading.delete(streamId);
    }
  }

  private async drain(streamId: string): Promise<void> {
    const queue = this.queues.get(streamId)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, this.maxBatch);
      try {
        await this.processBatch(streamId, batch);
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.queues.delete(streamId);
  }

  private async processBatch(streamId: string, batch: readonly Pending<C, R>[]): Promise<void> {
    let open = batch;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      // First try at the cached revision without reading the store: if another node wrote since,
      // the append fails with WrongExpectedVersion and the retry reads the newer events. That
      // saves a round trip per command while this node is the stream's only writer.
      const cached = attempt === 0 ? this.cache.get(streamId) : undefined;
      const { state: initial, revision } = cached ?? (await this.load(streamId));
      let state = initial;
      const events: EventData[] = [];
      const decided: { pending: Pending<C, R>; result: R }[] = [];
      const stillOpen: Pending<C, R>[] = [];
      for (const p of open) {
        let decision: Decision<R>;
        try {
          decision = this.decider.decide(p.command, state);
        } catch (err) {
          p.reject(err);
          continue;
        }
        stillOpen.push(p);
        events.push(...this.toEventData(p, decision));
        state = decision.events.reduce((st, e) => this.decider.evolve(st, e), state);
        decided.push({ pending: p, result: decision.result });
      }
      open = stillOpen;
      if (events.length === 0) {
        for (const d of decided) d.pending.resolve({ result: d.result, position: null });
        return;
      }
      try {
        const appended = await this.append(streamId, events, revision);
        if (appended.alreadyWritten) {
          this.cache.delete(streamId);
          await this.settleOneByOne(streamId, open);
          return;
        }
        this.cache.set(streamId, {
          state,
          revision: appended.nextExpectedRevision,
          checkedAt: Date.now(),
        });
        // Only the last event's position is known exactly; earlier events of the batch precede it,
        // and all of them become visible together, so it serves every command of the batch.
        for (const d of decided)
          d.pending.resolve({ result: d.result, position: appended.position });
        return;
      } catch (err) {
        if (err instanceof WrongExpectedVersionError) continue; // another writer: reload, decide again
        // Whatever else went wrong, the append may have been written: the next command on this
        // stream reads it instead of trusting the cache (a retried command is then answered by
        // the decider from what was stored).
        this.cache.delete(streamId);
        if (err instanceof EventStoreUnavailableError) throw err;
        if (open.length > 1) {
          // One command may have spoiled the whole append (an id used elsewhere, data the store
          // refuses): run each alone so only that one fails.
          this.cache.delete(streamId);
          await this.settleOneByOne(streamId, open);
          return;
        }
        if (err instanceof DuplicateEventIdError) throw Errors.eventIdConflict(streamId);
        throw err;
      }
    }
    for (const p of open) p.reject(Errors.contended(streamId));
  }

  /** A batch met events the store already had: run each command alone so each gets its answer. */
  private async settleOneByOne(streamId: string, open: readonly Pending<C, R>[]): Promise<void> {
    for (const p of open) {
      try {
        await this.processSingle(streamId, p);
      } catch (err) {
        p.reject(err);
      }
    }
  }

  private async processSingle(streamId: string, p: Pending<C, R>): Promise<void> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const { state, revision } = await this.load(streamId);
      const decision = this.decider.decide(p.command, state);
      if (decision.events.length === 0)
        return p.resolve({ result: decision.result, position: null });
      const events = this.toEventData(p, decision);
      try {
        const appended = await this.append(streamId, events, revision);
        if (appended.alreadyWritten) {
          const first = appended.nextExpectedRevision - events.length + 1;
          const stored = await this.store.readStream(streamId, {
            fromRevision: first,
            limit: events.length,
          });
          return p.resolve({
            result: this.decider.resultOfStored(p.command, stored),
            position: stored.length ? stored[stored.length - 1].position : null,
          });
        }
        this.cache.set(streamId, {
          state: decision.events.reduce((s, e) => this.decider.evolve(s, e), state),
          revision: appended.nextExpectedRevision,
          checkedAt: Date.now(),
        });
        return p.resolve({ result: decision.result, position: appended.position });
      } catch (err) {
        if (err instanceof DuplicateEventIdError) throw Errors.eventIdConflict(streamId);
        if (!(err instanceof WrongExpectedVersionError)) {
          this.cache.delete(streamId);
          throw err;
        }
      }
    }
    p.reject(Errors.contended(streamId));
  }

  private toEventData(p: Pending<C, R>, decision: Decision<R>): EventData[] {
    return decision.events.map((e, i) => ({
      id: this.decider.eventId(p.command, i),
      type: e.type,
      data: e.data,
      metadata: p.metadata,
    }));
  }

  /** Appends at the revision the state was loaded at (-1: the stream must not exist yet). */
  private append(streamId: string, events: readonly EventData[], revision: number) {
    return this.store.append(streamId, events, revision < 0 ? 'no_stream' : revision);
  }

  /** State at the stream's current revision: the cached state topped up with newer events. */
  private async load(streamId: string): Promise<Cached<S>> {
    const cached = this.cache.get(streamId);
    const checkedAt = Date.now();
    let newer: RecordedEvent[];
    let base: Cached<S>;
    if (cached) {
      base = cached;
      newer = await this.store.readStream(streamId, { fromRevision: cached.revision + 1 });
    } else if (this.decider.tailWindow) {
      base = { state: this.decider.initialState(), revision: -1, checkedAt };
      newer = (
        await this.store.readStream(streamId, {
          direction: 'backwards',
          limit: this.decider.tailWindow,
        })
      ).reverse();
    } else {
      base = { state: this.decider.initialState(), revision: -1, checkedAt };
      newer = await this.store.readStream(streamId);
    }
    if (newer.length === 0) {
      const confirmed = { ...base, checkedAt };
      if (cached) this.remember(streamId, confirmed);
      return confirmed;
    }
    const state = newer.reduce((s, e) => this.decider.evolve(s, e), base.state);
    const loaded = { state, revision: newer[newer.length - 1].revision, checkedAt };
    this.remember(streamId, loaded);
    return loaded;
  }

  /**
   * Caches a loaded state unless the cache moved past it meanwhile (this node's own append while
   * the read was under way): an older state must never replace a newer one.
   */
  private remember(streamId: string, loaded: Cached<S>): void {
    const current = this.cache.get(streamId);
    if (current && current.revision > loaded.revision) return;
    this.cache.set(streamId, loaded);
  }
}
