import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { findJsonSyntaxProblem } from './json-syntax';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('finding the first JSON syntax mistake', () => {
  it.each([
    ['', 1, 1, /no JSON value/],
    ['   ', 1, 4, /no JSON value/],
    ['{"a": 1', 1, 8, /ends before/],
    ['{"a": x}', 1, 7, /expected a value/],
    ['{"a": 1,}', 1, 9, /property name/],
    ['{a: 1}', 1, 2, /property name/],
    ['{"a" 1}', 1, 6, /':'/],
    ['{"a": 1 "b": 2}', 1, 9, /',' or '}'/],
    ['[1 2]', 1, 4, /',' or '\]'/],
    ['[1,]', 1, 4, /expected a value/],
    ['"abc', 1, 1, /never closed/],
    ['"a\\x"', 1, 3, /escape/],
    ['"\\u12G4"', 1, 2, /escape/],
    ['"a\tb"', 1, 3, /control character/],
    ['[01]', 1, 2, /number/],
    ['[1.]', 1, 2, /number/],
    ['[-]', 1, 2, /number/],
    ['[.5]', 1, 2, /expected a value/],
    ['[tru]', 1, 2, /expected a value/],
    ['{} {}', 1, 4, /after the JSON value/],
    ['{\n  "a": 1,\n  "b": ?\n}', 3, 8, /expected a value/],
    ['{\r\n"a":\r\n!}', 3, 1, /expected a value/],
  ])('%j: line %d, column %d', (text, line, column, why) => {
    expect(parses(text)).toBe(false);
    const problem = findJsonSyntaxProblem(text);
    expect(problem).toMatchObject({ line, column });
    expect(problem?.reason).toMatch(why);
  });

  it('finds nothing wrong in valid JSON, however deep', () => {
    expect(findJsonSyntaxProblem('{"a": [1, -2.5e3, "\\u00e9\\n", true, false, null, {}]}')).toBeUndefined();
    expect(findJsonSyntaxProblem(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toBeUndefined();
    expect(findJsonSyntaxProblem(`${'['.repeat(100_000)}1,`)).toMatchObject({ column: 100_003 });
  });

  it('agrees with JSON.parse on whether a text is JSON', () => {
    const damaged = fc
      .tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', '\\', 'x', '-', '0', ' ', '\n', '\u0001'), fc.nat(3))
      .map(([json, at, insert, remove]) => {
        const position = at % (json.length + 1);
        return json.slice(0, position) + insert + json.slice(position + remove);
      });
    fc.assert(
      fc.property(fc.oneof(fc.json(), damaged, fc.string()), (text) => {
        expect(findJsonSyntaxProblem(text) === undefined).toBe(parses(text));
      }),
      { numRuns: 3000 },
    );
  });
});
