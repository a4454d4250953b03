import { describe, expect, it } from '@jest/globals';
import { createReceiveSequence } from './receive-sequence';

describe('receive sequence', () => {
  it.each([
    { name: 'in order', input: [1, 2, 3], verdicts: ['deliver', 'deliver', 'deliver'], delivered: 3, gaps: 0 },
    { name: 'resent after a reconnect', input: [1, 2, 3, 2, 3, 4], verdicts: ['deliver', 'deliver', 'deliver', 'duplicate', 'duplicate', 'deliver'], delivered: 4, gaps: 0 },
    { name: 'a stream that starts late (receiver restarted)', input: [57, 58], verdicts: ['deliver', 'deliver'], delivered: 58, gaps: 0 },
    { name: 'a gap (sender dropped messages at peer-down)', input: [1, 2, 10], verdicts: ['deliver', 'deliver', 'deliver'], delivered: 10, gaps: 7 },
  ])('$name', ({ input, verdicts, delivered, gaps }) => {
    const sequence = createReceiveSequence();
    expect(input.map((seq) => sequence.accept(seq))).toEqual(verdicts);
    expect(sequence.delivered).toBe(delivered);
    expect(sequence.gaps).toBe(gaps);
  });
});
