// Where and why text is not JSON, in words that quote none of it. JSON.parse's own message
// quotes the input around the mistake ("Unexpected token 's', ..."assword": s3cr3tPass"... is
// not valid JSON"), and a config file or variable is where secrets live while error messages go
// to logs. So when JSON.parse refuses a source, the text is scanned again here, once, to find the
// first mistake; the scan is iterative, so nesting depth cannot exhaust the stack.

/** The first syntax mistake in a text: where (1-based line and column) and why, in general terms. */
export interface JsonSyntaxProblem {
  /** Index of the offending character in the text, 0-based. */
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  readonly reason: string;
}

type Expectation = 'value' | 'value-or-end-of-array' | 'name' | 'name-or-end-of-object' | 'colon' | 'comma-or-end-of-object' | 'comma-or-end-of-array' | 'nothing';

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const NUMBER_CHARACTER = /[0-9.eE+-]/;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const SIMPLE_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

/** Thrown from inside a string or number to the scan's top, which returns it. */
class Mistake extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function isJsonWhitespace(character: string | undefined): boolean {
  return character === ' ' || character === '\t' || character === '\n' || character === '\r';
}

/** The index just past the string whose opening quote is at `start`. */
function skipString(text: string, start: number): number {
  let index = start + 1;
  for (;;) {
    if (index >= text.length) throw new Mistake(start, 'a string is never closed');
    const character = text[index]!;
    if (character === '"') return index + 1;
    if (character === '\\') {
      const escaped = text[index + 1];
      if (escaped !== undefined && SIMPLE_ESCAPES.has(escaped)) index += 2;
      else if (escaped === 'u' && HEX4.test(text.slice(index + 2, index + 6))) index += 6;
      else throw new Mistake(index, 'a string has an invalid escape sequence');
    } else if (character.charCodeAt(0) < 0x20) {
      throw new Mistake(index, 'a string holds a control character (write it as an escape)');
    } else {
      index += 1;
    }
  }
}

/** The index just past the number starting at `start`. */
function skipNumber(text: string, start: number): number {
  NUMBER.lastIndex = start;
  const match = NUMBER.exec(text);
  const end = match === null ? start : start + match[0].length;
  // `-`, `01`, `1.`, `1e` and `.5` are not JSON numbers.
  if (end === start || NUMBER_CHARACTER.test(text[end] ?? '')) throw new Mistake(start, 'a number is not written as JSON writes numbers');
  return end;
}

/** The 1-based line and column, in UTF-16 code units, of `offset` in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let index = text.indexOf('\n'); index !== -1 && index < offset; index = text.indexOf('\n', index + 1)) {
    line += 1;
    lineStart = index + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

function findMistake(text: string, from: number): Mistake | undefined {
  const open: ('{' | '[')[] = [];
  let expecting: Expectation = 'value';
  const afterValue = (): Expectation => {
    const innermost = open[open.length - 1];
    return innermost === undefined ? 'nothing' : innermost === '{' ? 'comma-or-end-of-object' : 'comma-or-end-of-array';
  };
  let index = from;
  for (;;) {
    while (isJsonWhitespace(text[index])) index += 1;
    if (index >= text.length) {
      if (expecting === 'nothing') return undefined;
      return new Mistake(index, expecting === 'value' && open.length === 0 ? 'there is no JSON value' : 'the text ends before the JSON value is complete');
    }
    const character = text[index]!;
    switch (expecting) {
      case 'value':
      case 'value-or-end-of-array':
        if (character === ']' && expecting === 'value-or-end-of-array') {
          open.pop();
          index += 1;
          expecting = afterValue();
        } else if (character === '{' || character === '[') {
          open.push(character);
          index += 1;
          expecting = character === '{' ? 'name-or-end-of-object' : 'value-or-end-of-array';
        } else if (character === '"') {
          index = skipString(text, index);
          expecting = afterValue();
        } else if (character === '-' || (character >= '0' && character <= '9')) {
          index = skipNumber(text, index);
          expecting = afterValue();
        } else {
          const literal = ['true', 'false', 'null'].find((word) => text.startsWith(word, index));
          if (literal === undefined) return new Mistake(index, 'expected a value (an object, array, string in double quotes, number, true, false or null)');
          index += literal.length;
          expecting = afterValue();
        }
        break;
      case 'name':
      case 'name-or-end-of-object':
        if (character === '}' && expecting === 'name-or-end-of-object') {
          open.pop();
          index += 1;
          expecting = afterValue();
        } else if (character === '"') {
          index = skipString(text, index);
          expecting = 'colon';
        } else {
          return new Mistake(index, expecting === 'name' ? 'expected a property name in double quotes (JSON allows no comma before "}")' : 'expected a property name in double quotes, or "}"');
        }
        break;
      case 'colon':
        if (character !== ':') return new Mistake(index, "expected ':' after a property name");
        index += 1;
        expecting = 'value';
        break;
      case 'comma-or-end-of-object':
      case 'comma-or-end-of-array': {
        const close: '}' | ']' = expecting === 'comma-or-end-of-object' ? '}' : ']';
        if (character === ',') {
          index += 1;
          expecting = close === '}' ? 'name' : 'value';
        } else if (character === close) {
          open.pop();
          index += 1;
          expecting = afterValue();
        } else {
          return new Mistake(index, `expected ',' or '${close}' after ${close === '}' ? 'a property value' : 'an array element'}`);
        }
        break;
      }
      case 'nothing':
        return new Mistake(index, 'there is more text after the JSON value');
    }
  }
}

/**
 * The first syntax mistake in `text`, or undefined when it has none (JSON.parse may still refuse
 * it for another reason, such as a string longer than the engine allows). Positions count
 * UTF-16 code units, as JavaScript strings do; `from` skips that many leading characters (a
 * variable's leading spaces) while keeping positions relative to the text as written.
 */
export function findJsonSyntaxProblem(text: string, from = 0): JsonSyntaxProblem | undefined {
  let mistake: Mistake | undefined;
  try {
    mistake = findMistake(text, from);
  } catch (error) {
    if (!(error instanceof Mistake)) throw error;
    mistake = error;
  }
  if (mistake === undefined) return undefined;
  return { offset: mistake.offset, ...lineAndColumn(text, mistake.offset), reason: mistake.reason };
}

/** `is not valid JSON at line L, column C: why`, quoting none of the text. */
export function describeJsonSyntaxProblem(text: string, from = 0): string {
  const problem = findJsonSyntaxProblem(text, from);
  if (problem === undefined) return 'is not valid JSON';
  return `is not valid JSON at line ${problem.line}, column ${problem.column}: ${problem.reason}`;
}
