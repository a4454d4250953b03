import { describe, expect, it } from '@jest/globals';
import { decideExit, isNormalReason } from './exit-signal';

const link = { fromLink: true, fromSelf: false, fromParent: false };
const exit2 = { fromLink: false, fromSelf: false, fromParent: false };

describe('exit signals (the BEAM rules)', () => {
  it.each([
    // "If Reason is the atom kill, that is, if exit(Pid, kill) is called, an untrappable exit signal is sent"
    ['exit(pid, kill), not trapping', { ...exit2, reason: 'kill' }, false, { action: 'terminate', reason: 'killed', untrappable: true }],
    ['exit(pid, kill), trapping', { ...exit2, reason: 'kill' }, true, { action: 'terminate', reason: 'killed', untrappable: true }],
    // A process killed propagates `killed` through its links: an ordinary, trappable reason.
    ['link broke with killed, not trapping', { ...link, reason: 'killed' }, false, { action: 'terminate', reason: 'killed' }],
    ['link broke with killed, trapping', { ...link, reason: 'killed' }, true, { action: 'message' }],
    // "If Reason is the atom normal, Pid does not exit (unless Pid is the calling process)"
    ['normal from a link, not trapping', { ...link, reason: 'normal' }, false, { action: 'ignore' }],
    ['normal via exit/2, not trapping', { ...exit2, reason: 'normal' }, false, { action: 'ignore' }],
    ['normal sent to itself', { ...exit2, fromSelf: true, reason: 'normal' }, false, { action: 'terminate', reason: 'normal' }],
    ['normal, trapping', { ...link, reason: 'normal' }, true, { action: 'message' }],
    // Any other reason ends a process that does not trap exits, and is a message for one that does.
    ['error, not trapping', { ...link, reason: new Error('boom') }, false, { action: 'terminate' }],
    ['shutdown, trapping', { ...exit2, reason: 'shutdown' }, true, { action: 'message' }],
    ['noconnection, not trapping', { ...link, reason: 'noconnection' }, false, { action: 'terminate', reason: 'noconnection' }],
    // OTP's generic servers: a trapping child still stops when its parent (supervisor) says so.
    ['shutdown from the parent, trapping', { ...exit2, fromParent: true, reason: 'shutdown' }, true, { action: 'terminate', reason: 'shutdown' }],
    ['normal from the parent, trapping', { ...link, fromParent: true, reason: 'normal' }, true, { action: 'message' }],
  ])('%s', (_label, signal, trapping, expected) => {
    expect(decideExit(signal, trapping)).toMatchObject(expected);
  });

  it('marks only exit(pid, kill) untrappable: a killed from a link ends a process as any other reason does', () => {
    expect(decideExit({ ...link, reason: 'killed' }, false)).not.toHaveProperty('untrappable');
    expect(decideExit({ ...link, fromParent: true, reason: 'killed' }, true)).not.toHaveProperty('untrappable');
  });

  it('treats normal and shutdown as clean exits and nothing else', () => {
    expect(isNormalReason('normal')).toBe(true);
    expect(isNormalReason('shutdown')).toBe(true);
    expect(isNormalReason('killed')).toBe(false);
    expect(isNormalReason(new Error('x'))).toBe(false);
  });
});
