import { DomainError } from '../../common/errors';

/** Codes of the stream tools (docs/errors.md). */
export const StreamErrorCodes = {
  STREAM_NOT_FOUND: 40402,
  NOT_ON_THIS_STORE: 50100,
} as const;

export const StreamErrors = {
  notFound: (streamId: string) =>
    new DomainError(
      StreamErrorCodes.STREAM_NOT_FOUND,
      404,
      `stream ${streamId} does not exist (it has no events)`,
    ),
  /** Listing streams reads the PostgreSQL log's stream table; EventStoreDB has no cheap list. */
  listingNeedsPostgres: () =>
    new DomainError(
      StreamErrorCodes.NOT_ON_THIS_STORE,
      501,
      'listing streams needs the PostgreSQL event log; on EventStoreDB use its own UI ($streams)',
    ),
};
