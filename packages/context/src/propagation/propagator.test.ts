import { describe, expect, it } from '@jest/globals';
import { createSeededRandom, isUuid } from '@foundation/core';
import type { Clock, Random } from '@foundation/core';
import { TraceFlags, createTraceState } from '@opentelemetry/api';
import type { TextMapGetter } from '@opentelemetry/api';
import fc from 'fast-check';
import { createContext } from '../context';
import { CONTEXT_ERROR_CODES } from '../errors/codes';
import { createFlightRecorder } from '../flight-recorder';
import type { FlightRecorder, HopRecord } from '../flight-recorder';
import type { HeaderMap } from './carrier';
import { configurePropagation, defaultPropagator, extract, inject } from './default-propagator';
import { HEADER_NAMES } from './headers';
import type { DropReason, PropagatedField } from './headers';
import { createPropagator } from './propagator';

function fixedClock(wall: number, monotonic: number): Clock & { advance(ms: number): void } {
  let offset = 0;
  return { now: () => wall + offset, monotonic: () => monotonic + offset, advance: (ms) => void (offset += ms) };
}

const TRACE = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
  traceState: createTraceState('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'),
};

describe('inject → extract', () => {
  it('round-trips every field and adds one hop', () => {
    const senderClock = fixedClock(1_700_000_000_000, 5_000);
    // The receiver's clocks are nowhere near the sender's: only the remaining time travels.
    const receiverClock = fixedClock(1_600_000_000_000, 77);
    const sender = createPropagator({ nodeId: 'node-a', processId: 'p1', clock: senderClock });
    const receiver = createPropagator({ nodeId: 'node-b', processId: 'p2', clock: receiverClock });
    const context = createContext({ correlationId: 'corr-1', requestId: 'req-1', originNode: 'node-entry', hops: 4, localOnly: 'stays here' })
      .withTimeout(250, senderClock)
      .withTrace(TRACE)
      .setBaggage('user.id', 'alice smith')
      .setBaggage('tenant', 'acme', 'ttl=60');
    const carrier: HeaderMap = {};
    sender.inject(context, carrier);
    expect(carrier).toEqual({
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
      baggage: 'user.id=alice%20smith,tenant=acme;ttl=60',
      'foundation-correlation-id': 'corr-1',
      'foundation-request-id': 'req-1',
      'foundation-origin-node': 'node-entry',
      'foundation-hops': '4',
      'foundation-deadline-ms': '250',
    });
    const received = receiver.extract(carrier);
    expect(received.correlationId).toBe('corr-1');
    expect(received.requestId).toBe('req-1');
    expect(received.originNode).toBe('node-entry');
    expect(received.hops).toBe(5);
    expect(received.deadline).toBe(77 + 250);
    expect(received.remainingTime(receiverClock)).toBe(250);
    expect(received.trace).toMatchObject({ traceId: TRACE.traceId, spanId: TRACE.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    expect(received.trace?.traceState?.serialize()).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    expect([...received.baggage]).toEqual([...context.baggage]);
    expect(received.getValue('localOnly')).toBeUndefined();
    expect(receiver.stats()).toMatchObject({ extracted: 1, droppedBy: { malformed: 0, oversized: 0, unreadable: 0 } });
    expect(sender.stats().injected).toBe(1);
  });

  it('counts one hop per node boundary along a chain', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'].map((nodeId) => createPropagator({ nodeId, clock: fixedClock(0, 0) }));
    let context = nodes[0]!.extract({}); // entering the cluster at a: hop 0, origin a
    expect(context.hops).toBe(0);
    expect(context.originNode).toBe('a');
    for (let index = 1; index < nodes.length; index += 1) {
      const carrier: HeaderMap = {};
      nodes[index - 1]!.inject(context, carrier);
      context = nodes[index]!.extract(carrier);
      expect(context.hops).toBe(index);
      expect(context.originNode).toBe('a');
    }
  });

  it('writes this node as origin when the context has none, and sends an expired deadline as 0', () => {
    const clock = fixedClock(0, 1000);
    const propagator = createPropagator({ nodeId: 'node-a', clock });
    const carrier: HeaderMap = {};
    propagator.inject(createContext({ deadline: 900 }), carrier);
    expect(carrier['foundation-origin-node']).toBe('node-a');
    expect(carrier['foundation-deadline-ms']).toBe('0');
    expect(carrier['foundation-hops']).toBe('0');
    expect(carrier.traceparent).toBeUndefined();
    expect(carrier['foundation-correlation-id']).toBeUndefined();
    const received = createPropagator({ nodeId: 'node-b', clock }).extract(carrier);
    expect(received.isExpired(clock)).toBe(true);
  });

  it('assigns a correlation id on entry (reproducibly with a seeded Random), or not when told', () => {
    const first = createPropagator({ nodeId: 'n', random: createSeededRandom(7) }).extract({});
    const second = createPropagator({ nodeId: 'n', random: createSeededRandom(7) }).extract({});
    expect(isUuid(first.correlationId)).toBe(true);
    expect(first.correlationId).toBe(second.correlationId);
    expect(createPropagator({ nodeId: 'n', assignCorrelationId: false }).extract({}).correlationId).toBeUndefined();
  });

  it('works with any carrier through getters and setters (a Map here)', () => {
    const propagator = createPropagator({ nodeId: 'n' });
    const carrier = new Map<string, string>();
    propagator.inject(createContext({ correlationId: 'via-map' }), carrier, { set: (map, key, value) => void map.set(key, value) });
    const getter: TextMapGetter<Map<string, string>> = { keys: (map) => [...map.keys()], get: (map, key) => map.get(key) };
    expect(propagator.extract(carrier, getter).correlationId).toBe('via-map');
    expect(propagator.fields()).toEqual(Object.values(HEADER_NAMES));
  });

  it('writes into and reads from fetch Headers with the default setter and getter', () => {
    // A Headers keeps its entries behind get and set: the plain-map defaults wrote properties
    // onto the object, which fetch never sends, and read none back, with nothing said.
    const propagator = createPropagator({ nodeId: 'n' });
    const headers = new Headers({ accept: 'text/plain' });
    propagator.inject(createContext({ correlationId: 'via-fetch', hops: 2 }).withTrace(TRACE), headers);
    expect(headers.get('foundation-correlation-id')).toBe('via-fetch');
    expect(headers.get('traceparent')).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(Object.keys(headers)).toEqual([]);
    const received = propagator.extract(new Headers([...headers]));
    expect({ correlationId: received.correlationId, hops: received.hops, traceId: received.trace?.traceId }).toEqual({ correlationId: 'via-fetch', hops: 3, traceId: TRACE.traceId });
    expect(propagator.stats().dropped).toEqual(createPropagator({ nodeId: 'n' }).stats().dropped);
  });

  it('joins repeated list headers and accepts a single-element array for single fields', () => {
    const propagator = createPropagator({ nodeId: 'n' });
    const context = propagator.extract({
      baggage: ['a=1', 'b=2'],
      tracestate: ['x=1', 'y=2'],
      traceparent: ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00'],
      'foundation-hops': ['2'],
    });
    expect([...context.baggage.keys()]).toEqual(['a', 'b']);
    expect(context.trace?.traceState?.serialize()).toBe('x=1,y=2');
    expect(context.trace?.traceFlags).toBe(0);
    expect(context.hops).toBe(3);
  });
});

describe('the receive path drops bad input with a counter and never throws', () => {
  const GOOD_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const cases: [string, HeaderMap, PropagatedField, DropReason][] = [
    ['traceparent of the wrong shape', { traceparent: '00-xyz-01' }, 'traceparent', 'malformed'],
    ['traceparent with version ff', { traceparent: GOOD_TRACEPARENT.replace(/^00/, 'ff') }, 'traceparent', 'malformed'],
    ['two traceparent headers', { traceparent: [GOOD_TRACEPARENT, GOOD_TRACEPARENT] }, 'traceparent', 'malformed'],
    ['traceparent over 512 characters', { traceparent: `${GOOD_TRACEPARENT}${'-x'.repeat(300)}` }, 'traceparent', 'oversized'],
    ['malformed tracestate', { traceparent: GOOD_TRACEPARENT, tracestate: 'UPPER=1' }, 'tracestate', 'malformed'],
    ['baggage over 8 KiB', { baggage: `k=${'v'.repeat(9000)}` }, 'baggage', 'oversized'],
    ['baggage split into too many parts', { baggage: Array(100).fill('a=1') as string[] }, 'baggage', 'oversized'],
    ['malformed baggage', { baggage: 'k=v,=oops' }, 'baggage', 'malformed'],
    ['hop count that is not a number', { 'foundation-hops': 'three' }, 'hops', 'malformed'],
    ['negative hop count', { 'foundation-hops': '-1' }, 'hops', 'malformed'],
    ['hop count beyond 2^31 - 1', { 'foundation-hops': '9999999999' }, 'hops', 'malformed'],
    ['hop count with 11 digits', { 'foundation-hops': '00000000001' }, 'hops', 'oversized'],
    ['fractional deadline', { 'foundation-deadline-ms': '1.5' }, 'deadline', 'malformed'],
    ['correlation id with spaces', { 'foundation-correlation-id': 'a b' }, 'correlationId', 'malformed'],
    ['correlation id over 256 characters', { 'foundation-correlation-id': 'c'.repeat(257) }, 'correlationId', 'oversized'],
    ['request id with control characters', { 'foundation-request-id': 'r\n1' }, 'requestId', 'malformed'],
    ['origin node that is not a string', { 'foundation-origin-node': 42 as unknown as string }, 'originNode', 'unreadable'],
    ['origin node in an array of non-strings', { 'foundation-origin-node': [{}] as unknown as string[] }, 'originNode', 'unreadable'],
  ];

  it.each(cases)('%s', (_label, carrier, field, reason) => {
    const drops: [PropagatedField, DropReason][] = [];
    const propagator = createPropagator({ nodeId: 'n', onDrop: (dropped, why) => drops.push([dropped, why]) });
    const context = propagator.extract(carrier);
    expect(drops).toEqual([[field, reason]]);
    expect(propagator.stats().dropped[field]).toBe(1);
    expect(propagator.stats().droppedBy[reason]).toBe(1);
    if (field === 'hops') expect(context.hops).toBe(0);
    if (field === 'correlationId') expect(isUuid(context.correlationId)).toBe(true);
    if (field === 'originNode') expect(context.originNode).toBe('n');
    if (field === 'traceparent') expect(context.trace).toBeUndefined();
    if (field === 'baggage') expect(context.baggage.size).toBe(0);
  });

  it('ignores tracestate (without counting it) when traceparent is dropped, as §3.3 requires', () => {
    const propagator = createPropagator({ nodeId: 'n' });
    const context = propagator.extract({ traceparent: 'garbage', tracestate: 'a=1' });
    expect(context.trace).toBeUndefined();
    expect(propagator.stats().dropped).toMatchObject({ traceparent: 1, tracestate: 0 });
  });

  it('keeps the good fields when others are bad', () => {
    const propagator = createPropagator({ nodeId: 'n' });
    const context = propagator.extract({ 'foundation-correlation-id': 'good', 'foundation-hops': 'NaN', baggage: 'a=1' });
    expect(context.correlationId).toBe('good');
    expect(context.hops).toBe(0);
    expect(context.getBaggage('a')).toEqual({ value: '1' });
  });

  it('survives a getter that throws and an onDrop listener that throws', () => {
    const propagator = createPropagator({
      nodeId: 'n',
      onDrop: () => {
        throw new Error('listener failure');
      },
    });
    const hostileGetter: TextMapGetter<unknown> = {
      keys: () => [],
      get: () => {
        throw new Error('getter failure');
      },
    };
    const context = propagator.extract({}, hostileGetter);
    expect(context.hops).toBe(0);
    // Every field but tracestate, which is not read once traceparent is gone.
    expect(propagator.stats().droppedBy.unreadable).toBe(7);
  });

  it('survives an accessor that throws, and an injected clock or random that throws', () => {
    const carrier = { 'foundation-correlation-id': 'kept' } as HeaderMap;
    Object.defineProperty(carrier, 'traceparent', {
      enumerable: true,
      get: () => {
        throw new Error('accessor failure');
      },
    });
    const propagator = createPropagator({ nodeId: 'n' });
    expect(propagator.extract(carrier).correlationId).toBe('kept');
    expect(propagator.stats().dropped.traceparent).toBe(1);

    const broken = createPropagator({
      nodeId: 'n',
      clock: {
        now: () => 0,
        monotonic: () => {
          throw new Error('clock failure');
        },
      },
      random: {
        uint32: () => {
          throw new Error('random failure');
        },
      } as unknown as Random,
    });
    const fallback = broken.extract({ 'foundation-deadline-ms': '10' });
    expect(fallback).toMatchObject({ hops: 0, originNode: 'n', correlationId: undefined });
    expect(broken.stats().extractFailures).toBe(1);
  });

  it('reads only own properties of a header map', () => {
    const carrier = Object.create({ 'foundation-correlation-id': 'from-the-prototype' }) as HeaderMap;
    expect(createPropagator({ nodeId: 'n', assignCorrelationId: false }).extract(carrier).correlationId).toBeUndefined();
  });

  it('never throws, whatever the carrier holds (property test)', () => {
    const names = Object.values(HEADER_NAMES);
    const value = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
      fc.constantFrom('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '7', '', 'x'.repeat(9000)),
      fc.anything(),
    );
    const propagator = createPropagator({ nodeId: 'n' });
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), value), (carrier) => {
        const context = propagator.extract(carrier as HeaderMap);
        expect(context.hops).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the send path', () => {
  it('sends received baggage on as it came when it is canonical, and normalised otherwise', () => {
    const propagator = createPropagator({ nodeId: 'relay' });
    const relay = (baggage: string): string | undefined => {
      const carrier: HeaderMap = {};
      propagator.inject(propagator.extract({ baggage }), carrier);
      return carrier.baggage as string | undefined;
    };
    expect(relay('user.id=alice,note=a%2Cb;ttl=5')).toBe('user.id=alice,note=a%2Cb;ttl=5');
    // Normalised: whitespace, empty members and the earlier of a repeated key go; each value keeps
    // the encoding it came with, so the header never grows on the way through.
    expect(relay(' user.id = alice ,, note=%61%2cb ;ttl = 5,user.id=bob')).toBe('note=%61%2cb;ttl=5,user.id=bob');
    const received = propagator.extract({ baggage: 'user.id=alice' });
    const changed = createPropagator({ nodeId: 'relay' });
    const carrier: HeaderMap = {};
    changed.inject(received.setBaggage('tenant', 'acme corp'), carrier);
    expect(carrier.baggage).toBe('user.id=alice,tenant=acme%20corp');
  });

  it('sends on every member of a received baggage header within 8192 bytes, even one not in canonical form (W3C Baggage, "Limits")', () => {
    // "A platform MUST propagate all list-members including any list-members added by the
    // platform if the resulting baggage-string would be 8192 bytes or less." Values may hold
    // characters such as # or / unencoded; encoding them again on the way out made the header
    // longer than it came, and members were left out.
    const propagator = createPropagator({ nodeId: 'relay' });
    const members = Array.from({ length: 8 }, (_, index) => `k${index}=${'#/'.repeat(480)}`);
    const received = ` ${members.join(',')}`; // one leading space: not canonical, so re-serialised
    expect(received.length).toBeLessThanOrEqual(8192);
    const carrier: HeaderMap = {};
    const context = propagator.extract({ baggage: received });
    expect(context.getBaggage('k7')).toEqual({ value: '#/'.repeat(480) });
    propagator.inject(context, carrier);
    expect(carrier.baggage).toBe(members.join(','));
    expect(propagator.stats().baggageEntriesTruncated).toBe(0);
    expect(propagator.extract(carrier).getBaggage('k7')).toEqual({ value: '#/'.repeat(480) });
  });

  it('leaves out baggage entries that would take the header past 8 KiB, and counts them', () => {
    const propagator = createPropagator({ nodeId: 'n' });
    const context = createContext().setBaggage('a', 'x'.repeat(5000)).setBaggage('b', 'y'.repeat(5000)).setBaggage('c', 'z');
    const carrier: HeaderMap = {};
    propagator.inject(context, carrier);
    expect(carrier.baggage).toBe(`a=${'x'.repeat(5000)},c=z`);
    expect(propagator.stats().baggageEntriesTruncated).toBe(1);
    propagator.resetStats();
    expect(propagator.stats().baggageEntriesTruncated).toBe(0);
  });
});

  it('writes a trace state from OpenTelemetry only when it is a valid tracestate (W3C Trace Context §3.3)', () => {
    // @opentelemetry/api's TraceState.set does not check what it is given, so an application can
    // put a value with a line break or a comma into the span context.
    const propagator = createPropagator({ nodeId: 'n' });
    const send = (traceState: ReturnType<typeof createTraceState>): HeaderMap => {
      const carrier: HeaderMap = {};
      propagator.inject(createContext().withTrace({ ...TRACE, traceState }), carrier);
      return carrier;
    };
    const broken = send(createTraceState('rojo=00f067aa0ba902b7').set('evil', '1\r\nset-cookie: x=1'));
    expect(broken.traceparent).toBe(`00-${TRACE.traceId}-${TRACE.spanId}-01`);
    expect(broken.tracestate).toBeUndefined();
    expect(send(createTraceState('rojo=1').set('a', 'x=y')).tracestate).toBeUndefined();
    expect(send(createTraceState('rojo=1').set('UPPER', 'x')).tracestate).toBeUndefined();
    expect(send(createTraceState('rojo=00f067aa0ba902b7').set('congo', 't61rcWkgMzE')).tracestate).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  });

  it('cuts a valid trace state from OpenTelemetry to 32 members and 8192 characters, as its own set does, rather than leaving it out (W3C Trace Context §3.3.1.4, "tracestate limits")', () => {
    // OpenTelemetry's TraceState.set keeps any number of members: a vendor adding its own to a
    // full received list made 33, and the whole tracestate (the new member with it) was left out.
    const propagator = createPropagator({ nodeId: 'n' });
    const send = (traceState: ReturnType<typeof createTraceState>): string | undefined => {
      const carrier: HeaderMap = {};
      propagator.inject(createContext().withTrace({ ...TRACE, traceState }), carrier);
      return carrier.tracestate as string | undefined;
    };
    const full = Array.from({ length: 32 }, (_, index) => `m${index}=${index}`);
    expect(send(createTraceState(full.join(',')).set('mine', 'x'))).toBe(['mine=x', ...full.slice(0, 31)].join(','));
    // Valid members beyond 8192 characters: long ones go from the right first, the newest stays.
    const key = (index: number) => `k${String(index).padStart(2, '0')}${'k'.repeat(253)}`;
    let long = createTraceState('short=1');
    for (let index = 0; index < 20; index += 1) long = long.set(key(index), 'v'.repeat(256));
    const sent = send(long);
    expect(sent?.length).toBeLessThanOrEqual(8192);
    expect(sent?.split(',').map((member) => member.slice(0, member.indexOf('=')))).toEqual([...Array.from({ length: 15 }, (_, offset) => key(19 - offset)), 'short']);
    // One member outside the grammar among the 32 kept still leaves the whole header out.
    expect(send(createTraceState(full.join(',')).set('mine', 'x').set('bad', 'a\nb'))).toBeUndefined();
  });

describe('the flight recorder hook', () => {
  it('records departures and arrivals with node, process, correlation id and time', () => {
    const recorderA = createFlightRecorder({ capacity: 10 });
    const recorderB = createFlightRecorder({ capacity: 10 });
    const a = createPropagator({ nodeId: 'a', processId: '11', clock: fixedClock(1000, 0), recorder: recorderA });
    const b = createPropagator({ nodeId: 'b', processId: '22', clock: fixedClock(2000, 0), recorder: recorderB });
    const carrier: HeaderMap = {};
    a.inject(createContext({ correlationId: 'c-1', requestId: 'r-1' }).withTrace(TRACE), carrier, undefined, { peer: 'b' });
    b.extract(carrier, undefined, { peer: 'a' });
    expect(recorderA.query('c-1')).toEqual([
      { correlationId: 'c-1', requestId: 'r-1', node: 'a', process: '11', direction: 'out', hops: 0, peer: 'b', traceId: TRACE.traceId, spanId: TRACE.spanId, time: 1000 },
    ]);
    expect(recorderB.query('c-1')).toEqual([
      { correlationId: 'c-1', requestId: 'r-1', node: 'b', process: '22', direction: 'in', hops: 1, originNode: 'a', peer: 'a', traceId: TRACE.traceId, spanId: TRACE.spanId, time: 2000 },
    ]);
  });
});

describe('a flight recorder of your own', () => {
  it('receives every hop as a HopRecord', () => {
    const hops: HopRecord[] = [];
    const recorder: FlightRecorder = {
      capacity: 10,
      record: (hop) => void hops.push(hop),
      query: () => [],
      recent: () => [],
      stats: () => ({ size: 0, capacity: 10, recorded: 0, evicted: 0, correlations: 0 }),
      clear: () => undefined,
    };
    const propagator = createPropagator({ nodeId: 'n', processId: 'p', clock: fixedClock(5, 0), recorder });
    const carrier: HeaderMap = {};
    propagator.inject(createContext({ correlationId: 'c' }), carrier, undefined, { peer: 'has space' });
    propagator.extract(carrier);
    expect(hops).toEqual([
      { correlationId: 'c', node: 'n', process: 'p', direction: 'out', hops: 0, time: 5 },
      { correlationId: 'c', node: 'n', process: 'p', direction: 'in', hops: 1, originNode: 'n', time: 5 },
    ]);
  });
});

describe('the process-wide propagator', () => {
  it('backs the free inject and extract and can be reconfigured', () => {
    const configured = configurePropagation({ nodeId: 'configured-node', processId: 'worker-1' });
    expect(defaultPropagator()).toBe(configured);
    const carrier: HeaderMap = {};
    inject(createContext({ correlationId: 'free' }), carrier);
    expect(carrier['foundation-origin-node']).toBe('configured-node');
    expect(extract(carrier).hops).toBe(1);
    expect(configured.stats()).toMatchObject({ injected: 1, extracted: 1 });
  });

  it('rejects a node id that could not travel in a header', () => {
    expect(() => createPropagator({ nodeId: 'has space' })).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidOptions }));
    // One that JSON.stringify cannot describe (a BigInt) is reported the same way.
    expect(() => createPropagator({ nodeId: 10n as unknown as string })).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidOptions }));
  });

  it('refuses options that are not an object, and a context to inject that is not one, with the package codes (review finding)', () => {
    // From JavaScript these threw bare TypeErrors ("Cannot read properties of null").
    for (const options of [null, 5, 'node-a']) {
      expect(() => createPropagator(options as never)).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidOptions, option: 'options' }));
      expect(() => configurePropagation(options as never)).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidOptions, option: 'options' }));
    }
    expect(() => createFlightRecorder(null as never)).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidOptions, option: 'options' }));
    for (const context of [null, {}, 'c-1']) {
      expect(() => createPropagator({ nodeId: 'node-a' }).inject(context as never, {})).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidValue, key: 'context' }));
    }
  });
});
