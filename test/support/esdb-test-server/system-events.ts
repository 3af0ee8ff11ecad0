/**
 * System events like those a fresh single node writes into $all, so that subscribers to $all
 * meet them and must filter them: system streams start with `$`, system event types with `$`
 * (the client's `excludeSystemEvents()` is the event-type regex `^[^$].*`).
 */
import { randomUUID } from 'node:crypto';
import type { EventLog, ProposedEvent } from './event-log';

function json(type: string, body: unknown): ProposedEvent {
  return {
    id: randomUUID(),
    type,
    isJson: true,
    data: Buffer.from(JSON.stringify(body), 'utf8'),
    metadata: new Uint8Array(),
  };
}

/** The stats stream of a node, named after its HTTP endpoint as EventStoreDB names it. */
export function statsStream(endpoint: string): string {
  return `$stats-${endpoint}`;
}

/**
 * What a new node writes first: its epoch ($epoch-information on $epochs, 21.10+), the metadata
 * of the scavenges and stats streams ($maxAge), and a first $statsCollected.
 */
export function writeStartupEvents(log: EventLog, endpoint: string, startedAt: Date): void {
  const leaderInstanceId = randomUUID();
  log.append('$epochs', { kind: 'any' }, [
    json('$epoch-information', {
      epochNumber: 0,
      epochPosition: 0,
      epochId: randomUUID(),
      prevEpochPosition: -1,
      timeStamp: startedAt.toISOString(),
      leaderInstanceId,
    }),
  ]);
  log.append('$$$scavenges', { kind: 'any' }, [json('$metadata', { $maxAge: 2_592_000 })]);
  log.append(`$$${statsStream(endpoint)}`, { kind: 'any' }, [
    json('$metadata', { $maxAge: 86_400 }),
  ]);
  writeStatsCollected(log, endpoint, startedAt);
}

/** One $statsCollected, as the node's monitoring writes periodically (every 30 s by default). */
export function writeStatsCollected(log: EventLog, endpoint: string, startedAt: Date): void {
  const memory = process.memoryUsage();
  log.append(statsStream(endpoint), { kind: 'any' }, [
    json('$statsCollected', {
      'proc-startTime': startedAt.toISOString(),
      'proc-id': process.pid,
      'proc-mem': memory.rss,
      'proc-gcAllocationSpeed': 0,
      'es-checksum': 0,
      timestamp: new Date().toISOString(),
    }),
  ]);
}
