import { describe, expect, it } from '@jest/globals';
import { MAX_TRACESTATE_LENGTH, parseTraceState } from './trace-context';
import { W3CTraceState } from './trace-state';

describe('W3CTraceState (OpenTelemetry TraceState over a validated header)', () => {
  it('serialises the header it was built from without parsing it', () => {
    expect(new W3CTraceState('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE').serialize()).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
  });

  it('reads, sets (moving the key to the front, §3.3.1.4) and unsets without changing the original', () => {
    const state = new W3CTraceState('rojo=1,congo=2');
    expect(state.get('congo')).toBe('2');
    expect(state.get('missing')).toBeUndefined();
    const updated = state.set('congo', '3');
    expect(updated.serialize()).toBe('congo=3,rojo=1');
    expect(updated.unset('rojo').serialize()).toBe('congo=3');
    expect(state.serialize()).toBe('rojo=1,congo=2');
    expect(state.unset('absent')).toBe(state);
  });

  it('ignores invalid keys and values, and keeps at most 32 members', () => {
    const state = new W3CTraceState('a=1');
    expect(state.set('Upper', 'x')).toBe(state);
    expect(state.set('k', 'has,comma')).toBe(state);
    let many: ReturnType<W3CTraceState['set']> = state;
    for (let index = 0; index < 40; index += 1) many = many.set(`k${index}`, 'v');
    const members = many.serialize().split(',');
    expect(members).toHaveLength(32);
    expect(members[0]).toBe('k39=v');
    expect(new W3CTraceState('').serialize()).toBe('');
  });

  it('keeps what it serialises within the 8192 characters a receiver accepts, dropping long members first, then from the right (W3C Trace Context, "tracestate limits")', () => {
    // 32 members of 256-character keys and values make 16,447 characters: a receiver (this
    // package's included) drops such a tracestate whole as oversized.
    const key = (index: number) => `k${String(index).padStart(2, '0')}${'k'.repeat(253)}`;
    let state: ReturnType<W3CTraceState['set']> = new W3CTraceState('short=1,other=2');
    for (let index = 0; index < 20; index += 1) state = state.set(key(index), 'v'.repeat(256));
    const serialized = state.serialize();
    expect(serialized.length).toBeLessThanOrEqual(MAX_TRACESTATE_LENGTH);
    expect(parseTraceState(serialized)).toEqual({ ok: true, value: serialized });
    const keys = serialized.split(',').map((member) => member.slice(0, member.indexOf('=')));
    // The newest long members stay, newest first; the short ones are kept before any long one goes.
    expect(keys).toEqual([...Array.from({ length: 15 }, (_, offset) => key(19 - offset)), 'short', 'other']);
    expect(state.get(key(19))).toBe('v'.repeat(256));
  });
});
