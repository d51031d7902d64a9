// How long a round's per-client objects (the client's session and its tail
// shards) outlive the round's deadline before an alarm deletes their storage.
// Until then late status reads and retried answers still work; after it the
// coordinator's history is the round's only record, and nothing per client
// accumulates across rounds.
export const RETENTION_MS = 60 * 60 * 1000;
