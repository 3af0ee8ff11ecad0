import { DomainError } from '../../common/errors';

/** Codes of the replay tools: projection status, rebuild, verify, time travel (docs/errors.md). */
const codes = {
  UNKNOWN_PROJECTION: 40070,
  PROJECTIONS_READ_EACH_OTHER: 40071,
  AS_OF_READ_ONLY: 40072,
  TIME_TRAVEL_TARGET: 40073,
  AS_OF_LIVE_FEED: 40074,
  SNAPSHOT_NOT_FOUND: 40470,
  JOB_NOT_FOUND: 40471,
  ALREADY_RUNNING: 40970,
  SNAPSHOT_NOT_READY: 40971,
  SNAPSHOT_STALE: 40972,
  TOO_MANY_JOBS: 40973,
} as const;

export const ReplayErrors = {
  codes,
  unknownProjection: (unknown: readonly string[], known: readonly string[]) =>
    new DomainError(
      codes.UNKNOWN_PROJECTION,
      400,
      `unknown projection${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} ` +
        `(the projections are ${known.join(', ')})`,
      { unknown, known },
    ),
  readEachOther: (missing: readonly { projection: string; reads: string; owner: string }[]) =>
    new DomainError(
      codes.PROJECTIONS_READ_EACH_OTHER,
      400,
      'these projections read tables of others and must be rebuilt with them: ' +
        missing.map((m) => `${m.projection} reads ${m.reads} (${m.owner})`).join('; ') +
        `; add ${[...new Set(missing.map((m) => m.owner))].join(', ')}`,
      { missing },
    ),
  asOfReadOnly: (method: string) =>
    new DomainError(
      codes.AS_OF_READ_ONLY,
      400,
      `as_of reads a time-travel snapshot: it is only for GET requests, not ${method}`,
    ),
  asOfLiveFeed: (path: string) =>
    new DomainError(
      codes.AS_OF_LIVE_FEED,
      400,
      `as_of reads a time-travel snapshot: ${path} is a live feed of what happens now, it has no ` +
        'past to read (read the history endpoints with as_of instead)',
    ),
  timeTravelTarget: (why: string) => new DomainError(codes.TIME_TRAVEL_TARGET, 400, why),
  snapshotNotFound: (id: string) =>
    new DomainError(codes.SNAPSHOT_NOT_FOUND, 404, `no time-travel snapshot ${id}`),
  jobNotFound: (id: string) =>
    new DomainError(
      codes.JOB_NOT_FOUND,
      404,
      `no job ${id} on this node (jobs are kept in the memory of the node that started them)`,
    ),
  alreadyRunning: (what: string) =>
    new DomainError(codes.ALREADY_RUNNING, 409, `${what} is already running`),
  snapshotNotReady: (id: string, state: string) =>
    new DomainError(
      codes.SNAPSHOT_NOT_READY,
      409,
      `time-travel snapshot ${id} is ${state}, not ready to be read`,
    ),
  snapshotStale: (id: string) =>
    new DomainError(
      codes.SNAPSHOT_STALE,
      409,
      `time-travel snapshot ${id} predates the current read-model definitions (a migration ran ` +
        'since it was built): build a new one',
    ),
  tooManyJobs: (max: number) =>
    new DomainError(
      codes.TOO_MANY_JOBS,
      409,
      `${max} replay jobs are already running on this node (the most it runs at once, beside ` +
        'the API): wait for one to end, or run the CLI on another host',
      { max },
    ),
};
