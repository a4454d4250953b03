/** Codes of the foundation meta-package (range 6100–6199). */
export const FOUNDATION_ERROR_CODES = Object.freeze({
  invalidOptions: 6101,
  notStarted: 6102,
  lockNotHeld: 6103,
  noCandidateNode: 6104,
  remoteSpawnFailed: 6105,
  unknownBehavior: 6106,
});
