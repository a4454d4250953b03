// A peer's answer to a status request, read as hostile input (see read-node-status.ts): here,
// the configJudge field, which nodes of earlier versions do not send.
import { describe, expect, it } from '@jest/globals';
import { readNodeStatus } from './read-node-status';

const asked = 'peer@127.0.0.1:4000';
const status = {
  id: asked,
  url: 'ws://127.0.0.1:4000',
  version: '2.0.0',
  uptimeMs: 10,
  processes: 0,
  services: 0,
  peers: [],
  membership: { members: [asked], activeView: [], passiveView: [], topology: 'hyparview' },
  raft: { role: 'leader', term: 1, commit: 1, applied: 1, leader: asked, voters: [asked], learners: [] },
  channels: {},
  rttMs: {},
};

describe('readNodeStatus, the judge of cluster-wide config writes', () => {
  it.each([
    ['absent, as from a node of an earlier version', undefined],
    ['the cluster', { judge: 'cluster' }],
    ['the node, with why', { judge: 'node', code: 1201, message: 'key needed' }],
  ])('takes %s', (_name, configJudge) => {
    const reply = configJudge === undefined ? status : { ...status, configJudge };
    expect(readNodeStatus(reply, asked)).toBe(reply);
  });

  // The code is an error code (a non-negative integer), as every other number of the status is
  // checked to be a count: a peer's NaN or Infinity was passed on to whatever prints it.
  it.each([
    ['null', null],
    ['a string', 'cluster'],
    ['another judge', { judge: 'someone' }],
    ['the node without a message', { judge: 'node', code: 1201 }],
    ['the node with a code that is not a number', { judge: 'node', code: '1201', message: 'x' }],
    ['the node with a NaN code', { judge: 'node', code: Number.NaN, message: 'x' }],
    ['the node with an infinite code', { judge: 'node', code: Number.POSITIVE_INFINITY, message: 'x' }],
    ['the node with a negative code', { judge: 'node', code: -1, message: 'x' }],
    ['the node with a fractional code', { judge: 'node', code: 1201.5, message: 'x' }],
  ])('refuses %s, naming configJudge', (_name, configJudge) => {
    expect(() => readNodeStatus({ ...status, configJudge }, asked)).toThrow(/not its status \(configJudge\)/);
  });
});
