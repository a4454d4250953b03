import { describe, expect, it } from '@jest/globals';
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
});
