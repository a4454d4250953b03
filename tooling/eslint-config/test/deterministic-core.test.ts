// The lint rule that keeps protocol cores deterministic, checked through the real ESLint CLI:
// once on a miniature workspace that uses the shared config, and once on the repository's own
// configuration to show it applies the same rules to every packages/*/src/core/ file.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const repositoryRoot = resolve(__dirname, '../../..');
const eslint = join(repositoryRoot, 'node_modules', '.bin', 'eslint');
const fixture = join(__dirname, 'fixture');

interface LintMessage {
  readonly ruleId: string | null;
  readonly line: number;
  readonly message: string;
}

function lint(cwd: string, file: string): LintMessage[] {
  let output: string;
  try {
    output = execFileSync(eslint, ['--format', 'json', '--no-warn-ignored', file], { cwd, encoding: 'utf8' });
  } catch (error) {
    // ESLint exits with 1 when it reports errors; the JSON is still on stdout.
    output = (error as { stdout: string }).stdout;
  }
  const [result] = JSON.parse(output) as { messages: LintMessage[] }[];
  return result!.messages;
}

describe('the deterministic-core lint rule', () => {
  it('rejects Math.random, Date.now, timers and the other nondeterministic reads in a src/core/ file', () => {
    const messages = lint(fixture, 'packages/demo/src/core/nondeterministic.ts');
    expect(messages.every((message) => message.ruleId !== null)).toBe(true);
    const flaggedLines = new Set(messages.map((message) => message.line));
    // import of randomUUID, Math.random, Date.now, performance.now, process.hrtime,
    // crypto.randomUUID, setTimeout, setInterval
    expect([...flaggedLines].sort((a, b) => a - b)).toEqual([2, 4, 5, 6, 7, 8, 11, 14]);
    const mathRandom = messages.find((message) => message.line === 4)!;
    expect(mathRandom.ruleId).toBe('no-restricted-properties');
    expect(mathRandom.message).toContain('Math.random');
    expect(mathRandom.message).toContain('injected Random');
  });

  it('allows the same calls outside src/core/', () => {
    expect(lint(fixture, 'packages/demo/src/driver/deterministic-free.ts')).toEqual([]);
  });

  it("is part of the repository's own configuration for every package's src/core/", () => {
    const printed = execFileSync(eslint, ['--print-config', 'packages/any-package/src/core/state-machine.ts'], {
      cwd: repositoryRoot,
      encoding: 'utf8',
    });
    const config = JSON.parse(printed) as { rules: Record<string, unknown[]> };
    const restricted = config.rules['no-restricted-properties']!;
    expect(restricted[0]).toBe(2);
    expect(restricted).toEqual(expect.arrayContaining([expect.objectContaining({ object: 'Math', property: 'random' })]));
    const outside = JSON.parse(
      execFileSync(eslint, ['--print-config', 'packages/any-package/src/driver.ts'], { cwd: repositoryRoot, encoding: 'utf8' }),
    ) as { rules: Record<string, unknown> };
    expect(outside.rules['no-restricted-properties']).toBeUndefined();
  });
});
