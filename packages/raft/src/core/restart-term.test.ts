// A node restarted from a disk that kept a batch's entries but lost its hard state (a torn write:
// the simulated disk of sim-persistence.ts leaves exactly that, and so may any persistence that
// writes the entries before the hard state) holds entries of a term above its durable term. The
// messages it sends must still pass the wire's checks, or its peers drop them and never answer.
import { describe, expect, it } from '@jest/globals';
import { CoreNetwork } from '../internal/core-network';
import { parseWireMessage } from '../driver/wire';
import type { Message } from './types';

const LIMITS = { maxEntriesPerMessage: 1 << 20, maxEntryBytes: 1 << 20, maxSnapshotBytes: 1 << 30, maxChunkBytes: 1 << 30 };

describe('a node whose log holds a term its hard state lost', () => {
  it('starts in that term, so its peers take its vote requests and the two survivors elect a leader (review finding)', () => {
    const network = new CoreNetwork(['n1', 'n2', 'n3'], { electionTicks: 5 });
    network.elect('n1');
    network.propose('n1', 'a');
    network.stabilize();
    expect(network.node('n3').core.log.committed).toBe(2);

    // Term 2 passes without an entry and without n3: n2 campaigns, n1 votes, the vote is lost.
    network.isolate('n3');
    network.restart('n1');
    network.node('n2').core.campaign();
    for (let round = 0; round < 10; round += 1) {
      for (const id of ['n1', 'n2']) network.processReady(id);
      network.deliverAll((message) => !(message.type === 'vote-response' && !message.preVote));
    }
    expect([network.node('n1').core.term, network.node('n2').core.term, network.node('n3').core.term]).toEqual([2, 2, 1]);

    // n1 wins term 3 (n3 still follows n1 of term 1 and ignores the votes), and its first append
    // reaches n3 alone: n3 goes from term 1 to 3 and appends the no-op of term 3 in one step.
    network.heal();
    network.node('n1').core.campaign();
    for (let round = 0; round < 10; round += 1) {
      network.processReady('n1');
      network.processReady('n2');
      network.deliverAll((message) => !(message.type === 'append' && message.to === 'n2'));
    }
    expect(network.node('n1').core.role).toBe('leader');
    const n3 = network.node('n3');
    expect(n3.core.term).toBe(3);
    // The write of that step tears: the entry reaches the disk, the hard state does not, and n3
    // crashes before it answers. n1 goes down for good.
    n3.storage.append(n3.core.ready().entries);
    network.restart('n3');
    network.isolate('n1');
    expect([n3.storage.hardState.term, n3.storage.term(n3.storage.lastIndex())]).toEqual([1, 3]);

    // n2 (term 3, without the no-op) and n3 (the longer log) must agree on a leader, with every
    // message passing the wire as between two drivers.
    const refused: string[] = [];
    const wire = (message: Message): boolean => {
      try {
        parseWireMessage(message, message.from, message.to, LIMITS);
        return true;
      } catch (error) {
        refused.push(`${message.type} from ${message.from}: ${(error as Error).message}`);
        return false;
      }
    };
    const survivingLeader = (): string | undefined => ['n2', 'n3'].find((id) => network.node(id).core.role === 'leader');
    for (let round = 0; round < 200 && survivingLeader() === undefined; round += 1) {
      for (const id of ['n2', 'n3']) {
        network.tick(id);
        network.processReady(id);
      }
      network.deliverAll(wire);
    }
    expect(refused).toEqual([]);
    expect(survivingLeader()).toBe('n3');
  });
});
