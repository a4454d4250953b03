// How the config writers count a write that failed: the same rule as the key-value clients',
// --errors-as-info included, apart from the config's own refusals.
import { describe, expect, it } from '@jest/globals';
import { CONFIG_ERROR_CODES } from '@foundation/config';
import { NotSentError, RemoteError } from '../src/cluster/node-process';
import { failedWriteOutcome } from '../src/workload/config-writers';
import { NOT_APPLIED_CODES } from '../src/workload/workload';

describe('a failed cluster-wide config write', () => {
  const notApplied = new RemoteError('n1', 'not the leader', [...NOT_APPLIED_CODES][0], 'NotLeader');

  it('failed for certain when a not-applied code came back quickly, unless --errors-as-info trusts no code', () => {
    expect(failedWriteOutcome(notApplied, 100)).toBe('fail');
    expect(failedWriteOutcome(notApplied, 100, true)).toBe('unknown');
  });

  it('is unknown when the not-applied code came after the retry window, or the error says nothing', () => {
    expect(failedWriteOutcome(notApplied, 60_000)).toBe('unknown');
    expect(failedWriteOutcome(new RemoteError('n1', 'timed out', undefined, undefined), 100)).toBe('unknown');
  });

  it('failed for certain when it was never sent, whatever the flag', () => {
    const notSent = new NotSentError('n1', 'config-set');
    expect(failedWriteOutcome(notSent, 0)).toBe('fail');
    expect(failedWriteOutcome(notSent, 0, true)).toBe('fail');
  });

  it('was committed and refused where applied when the config refused it, whatever the flag', () => {
    const refused = new RemoteError('n1', 'out of range', Object.values(CONFIG_ERROR_CODES)[0], 'ConfigValidationError');
    expect(failedWriteOutcome(refused, 100)).toBe('refused-where-applied');
    expect(failedWriteOutcome(refused, 100, true)).toBe('refused-where-applied');
  });
});
