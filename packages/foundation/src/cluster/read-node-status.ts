// Another node's answer to a status request, read as hostile input: the command line and the
// demo's dashboard print every field of it, and a peer (of another version, or not honest)
// may answer anything. An answer without a field of its shape is that node's error, not the
// whole cluster status's.
import { FoundationError, isPlainObject } from '@foundation/core';
import type { NodeStatus } from '../start-node';

const CHANNEL_COUNTERS = ['messagesSent', 'bytesSent', 'messagesReceived', 'bytesReceived', 'queuedMessages', 'queuedBytes'] as const;

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isNames = (value: unknown): value is string[] => Array.isArray(value) && value.every((name) => typeof name === 'string');

/** The fields of `reply` that are not a node status's, by name (empty when it is one). */
function wrongFields(reply: Record<string, unknown>, asked: string): string[] {
  const wrong: string[] = [];
  const check = (field: string, ok: boolean): void => {
    if (!ok) wrong.push(field);
  };
  check('id', reply.id === asked);
  check('url', typeof reply.url === 'string');
  check('version', typeof reply.version === 'string');
  for (const field of ['uptimeMs', 'processes', 'services']) check(field, isCount(reply[field]));
  check('peers', isNames(reply.peers));
  const { membership, raft, channels, rttMs } = reply;
  if (!isPlainObject(membership)) check('membership', false);
  else {
    for (const field of ['members', 'activeView', 'passiveView']) check(`membership.${field}`, isNames(membership[field]));
    check('membership.topology', typeof membership.topology === 'string');
  }
  if (!isPlainObject(raft)) check('raft', false);
  else {
    check('raft.role', typeof raft.role === 'string');
    for (const field of ['term', 'commit', 'applied']) check(`raft.${field}`, isCount(raft[field]));
    check('raft.leader', raft.leader === null || typeof raft.leader === 'string');
    for (const field of ['voters', 'learners']) check(`raft.${field}`, isNames(raft[field]));
  }
  check('channels', isPlainObject(channels) && Object.values(channels).every((summary) => isPlainObject(summary) && CHANNEL_COUNTERS.every((counter) => isCount(summary[counter]))));
  check('rttMs', isPlainObject(rttMs) && Object.values(rttMs).every(isCount));
  // Absent from nodes of versions before it. Its code is an error code: a non-negative integer.
  const { configJudge } = reply;
  if (configJudge !== undefined) {
    check('configJudge', isPlainObject(configJudge) && (configJudge.judge === 'cluster' || (configJudge.judge === 'node' && isCount(configJudge.code) && Number.isInteger(configJudge.code) && typeof configJudge.message === 'string')));
  }
  return wrong;
}

/**
 * `reply` as the status of node `asked`; throws a FoundationError (`deserialization_failed`) naming
 * the fields that are missing or of another shape, the id among them when it names another node.
 */
export function readNodeStatus(reply: unknown, asked: string): NodeStatus {
  const wrong = isPlainObject(reply) ? wrongFields(reply, asked) : ['the answer itself'];
  if (wrong.length > 0) {
    throw new FoundationError({
      type: 'deserialization_failed',
      message: `${asked} answered the status request with something that is not its status (${wrong.slice(0, 5).join(', ')}${wrong.length > 5 ? `, and ${wrong.length - 5} more` : ''})`,
      context: { node: asked, fields: wrong },
    });
  }
  return reply as NodeStatus;
}
