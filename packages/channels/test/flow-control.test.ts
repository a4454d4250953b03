// Credit on the wire, seen from a peer that speaks the protocol by hand: the receiver returns
// credit in batches of at least a quarter of the window, never stalls a sender that stays
// within its window, and sends it in the same write as the frames of its turn.
import { afterEach, expect, it } from '@jest/globals';
import { createCborCodec } from '../src/core/cbor';
import { FRAME_TYPES, decodeLaneAmounts, writeBlockHeader } from '../src/core/frames';
import { closeNodes, rawClient, startNode, waitFor } from './helpers';

afterEach(closeNodes);

const codec = createCborCodec();
const WINDOW = 8192;

function block(body: Uint8Array): Buffer {
  const header = Buffer.alloc(14);
  const length = writeBlockHeader(header, 0, 0, false, false, 1, 1);
  return Buffer.concat([header.subarray(0, length), body]);
}

it('returns credit once a quarter of the window is consumed, not after every turn, and a sender within its window never stalls', async () => {
  const channels = { small: { windowBytes: WINDOW } };
  const received: number[] = [];
  const node = await startNode('target', { channels });
  node.onMessage('small', () => void received.push(1));
  const client = await rawClient(node.address()!.url);
  await client.handshake({ channels });
  await waitFor(() => client.frames.some((frame) => frame[0] === FRAME_TYPES.credit), 2_000, 'the initial grant');
  const grants = (): number[] =>
    client.frames.filter((frame) => frame[0] === FRAME_TYPES.credit).flatMap((frame) => decodeLaneAmounts('credit', frame).map((entry) => entry.amount));
  expect(grants()).toEqual([WINDOW]);

  const frame = block(codec.encode(['x'.repeat(180)])); // about 200 bytes on the wire
  let sent = 0;
  // One frame per event-loop turn, as a trickle of small messages arrives.
  while (sent + frame.length < WINDOW / 4) {
    client.send(frame);
    sent += frame.length;
    await waitFor(() => received.length * frame.length === sent, 2_000, 'delivery');
  }
  expect(grants()).toEqual([WINDOW]); // nothing back yet: less than a quarter consumed

  // Keep sending whatever the credit allows, for four windows' worth: credit keeps coming back.
  const available = (sentSoFar: number): number => grants().reduce((sum, amount) => sum + amount, 0) - sentSoFar;
  let total = sent;
  while (total < 4 * WINDOW) {
    if (available(total) < frame.length) {
      await waitFor(() => available(total) >= frame.length, 2_000, 'more credit');
      continue;
    }
    client.send(frame);
    total += frame.length;
    await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor(() => received.length * frame.length === total, 2_000, 'every frame delivered');
  const returned = grants().slice(1);
  expect(returned.length).toBeGreaterThan(0);
  for (const amount of returned) expect(amount).toBeGreaterThanOrEqual(WINDOW / 4);
  expect(returned.length).toBeLessThanOrEqual(Math.ceil(total / (WINDOW / 4)));
}, 20_000);

it('stops reading a connection for the rest of a turn once its frames reach turnBytes, and loses nothing by it', async () => {
  const channels = { small: { windowBytes: 1024 * 1024 } };
  const received: number[] = [];
  const node = await startNode('target', { channels, limits: { turnBytes: 4096 } });
  node.onMessage('small', ({ payload }) => void received.push((payload as [number, string])[0]));
  const client = await rawClient(node.address()!.url);
  await client.handshake({ channels });
  await waitFor(() => client.frames.some((frame) => frame[0] === FRAME_TYPES.credit), 2_000, 'the initial grant');
  // 200 frames of about 1 KiB written at once: far more than one turn's 4 KiB.
  const padding = 'x'.repeat(1000);
  for (let index = 0; index < 200; index += 1) client.send(block(codec.encode([[index, padding]])));
  await waitFor(() => received.length === 200, 5_000, 'every frame delivered');
  expect(received).toEqual(Array.from({ length: 200 }, (_, index) => index));
  // The frames arrived faster than 4 KiB per turn could take them, so reads were paused at least once.
  expect(node.stats().readPauses).toBeGreaterThan(0);
}, 20_000);
