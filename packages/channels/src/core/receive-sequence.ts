// Receiver side of a reliable lane: messages carry consecutive sequence numbers per sender
// stream; each is delivered once. After a reconnect the sender sends everything it has not
// seen acknowledged again, so numbers at or below the last delivered one are duplicates.
// The first number seen from a new stream (a new incarnation or epoch of the sender) starts
// it, since the sender resends from its oldest unacknowledged message.

export type SequenceVerdict = 'deliver' | 'duplicate';

export interface ReceiveSequence {
  /** Whether message `seq` is new (and records it as delivered) or a duplicate. */
  accept(seq: number): SequenceVerdict;
  /** Highest sequence number delivered (0 before the first). */
  readonly delivered: number;
  /** Messages skipped because the sender dropped them (gaps), for the counters. */
  readonly gaps: number;
}

export function createReceiveSequence(): ReceiveSequence {
  let delivered = 0;
  let gaps = 0;
  return {
    accept(seq) {
      if (delivered !== 0 && seq <= delivered) return 'duplicate';
      if (delivered !== 0 && seq > delivered + 1) gaps += seq - delivered - 1;
      delivered = seq;
      return 'deliver';
    },
    get delivered() {
      return delivered;
    },
    get gaps() {
      return gaps;
    },
  };
}
