/** Codes of the foundation meta-package (range 6100–6199). */
export const FOUNDATION_ERROR_CODES = Object.freeze({
  invalidOptions: 6101,
  lockNotHeld: 6102,
  noCandidateNode: 6103,
  unknownBehavior: 6104,
  unreadableSnapshot: 6105,
  streamOptionsConflict: 6106,
  dataDirInUse: 6107,
  dataDirUnusable: 6108,
  nodeStopFailed: 6109,
  clusterWriteOutcomeUnknown: 6110,
  startAborted: 6111,
  proposalResultForgotten: 6112,
});
