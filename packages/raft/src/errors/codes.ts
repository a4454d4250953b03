/** Codes of @foundation/raft (range 6000–6099). */
export const RAFT_ERROR_CODES = Object.freeze({
  compacted: 6001,
  notLeader: 6010,
  dropped: 6011,
  timeout: 6012,
  stopped: 6013,
  notStarted: 6014,
  corruptLog: 6020,
  storageInUse: 6021,
  unusableStorage: 6022,
  snapshotRefused: 6023,
  invalidMessage: 6030,
  membershipChange: 6040,
  invalidOptions: 6050,
});
