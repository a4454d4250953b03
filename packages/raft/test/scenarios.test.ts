// Runs every scenario script in ./scenarios and compares each command's output with the
// expected output written under it. UPDATE_SCENARIOS=1 rewrites the expectations (review the
// diff before committing it).
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario, renderScenario, runScenario } from '../src/internal/scenario';

const directory = join(__dirname, 'scenarios');
const files = readdirSync(directory).filter((file) => file.endsWith('.txt')).sort();

describe('scenario scripts', () => {
  it.each(files)('%s', (file) => {
    const path = join(directory, file);
    const text = readFileSync(path, 'utf8');
    const blocks = parseScenario(text);
    const outputs = runScenario(blocks);
    if (process.env.UPDATE_SCENARIOS === '1') {
      writeFileSync(path, renderScenario(text, blocks, outputs));
      return;
    }
    blocks.forEach((block, index) => {
      expect({ line: block.line, command: block.command, output: outputs[index] }).toEqual({
        line: block.line,
        command: block.command,
        output: block.expected,
      });
    });
  });
});
