// Scenario scripts: a cluster driven step by step, each command followed by the output it must
// produce (the style of etcd-io/raft's testdata). A block is one command line, a `----` line,
// the expected output, and a blank line. Lines starting with # are comments.
import { CoreNetwork } from './core-network';
import type { CoreOverrides } from './core-network';
import type { Message } from '../core/types';

export interface ScenarioBlock {
  readonly command: string;
  readonly expected: string;
  readonly line: number;
}

export function parseScenario(text: string): ScenarioBlock[] {
  const lines = text.split('\n');
  const blocks: ScenarioBlock[] = [];
  let index = 0;
  while (index < lines.length) {
    const line = lines[index]!;
    if (line.trim() === '' || line.startsWith('#')) {
      index += 1;
      continue;
    }
    const command = line.trim();
    const start = index + 1;
    if (lines[start] !== '----') throw new Error(`line ${start + 1}: expected ---- after "${command}"`);
    let end = start + 1;
    const output: string[] = [];
    while (end < lines.length && lines[end]!.trim() !== '') output.push(lines[end++]!);
    blocks.push({ command, expected: output.join('\n'), line: index + 1 });
    index = end;
  }
  return blocks;
}

export function formatMessage(message: Message): string {
  const head = `${message.from}->${message.to} ${message.type} t${message.term}`;
  switch (message.type) {
    case 'vote':
      return `${head} last=${message.lastIndex}/${message.lastTerm}${message.preVote ? ' pre' : ''}${message.transfer ? ' transfer' : ''}`;
    case 'vote-response':
      return `${head} ${message.granted ? 'granted' : 'rejected'}${message.preVote ? ' pre' : ''}`;
    case 'append':
      return `${head} prev=${message.prevIndex}/${message.prevTerm} entries=[${message.entries.map((entry) => `${entry.index}/${entry.term}${entry.kind === 'membership' ? `:${entry.change.type} ${entry.change.node}` : ''}`).join(' ')}] commit=${message.commit}`;
    case 'append-response':
      return `${head} ${message.success ? `ok ${message.index}` : `reject ${message.index} hint=${message.hintIndex}/${message.hintTerm}`}`;
    case 'heartbeat':
      return `${head} commit=${message.commit}${message.context === null ? '' : ` ctx=${message.context}`}`;
    case 'heartbeat-response':
      return `${head}${message.context === null ? '' : ` ctx=${message.context}`}`;
    case 'snapshot':
      return `${head} snapshot=${message.snapshot.meta.index}/${message.snapshot.meta.term}`;
    case 'timeout-now':
      return head;
    case 'read-index':
      return `${head} ctx=${message.context}`;
    case 'read-index-response':
      return `${head} ctx=${message.context} index=${message.index}`;
  }
}

function parseOptions(parts: string[]): CoreOverrides {
  const options: Record<string, unknown> = {};
  for (const part of parts) {
    const [key, value] = part.split('=');
    if (key === undefined || value === undefined) throw new Error(`bad option ${part}`);
    options[key] = value === 'true' ? true : value === 'false' ? false : /^\d+$/.test(value) ? Number(value) : value;
  }
  return options;
}

/** Runs a scenario and returns the output of each block. */
export function runScenario(blocks: readonly ScenarioBlock[]): string[] {
  let network: CoreNetwork | undefined;
  const net = (): CoreNetwork => {
    if (network === undefined) throw new Error('no cluster yet: start with "cluster n1 n2 n3"');
    return network;
  };
  const stabilize = (): string[] => {
    const seen = net().delivered.length;
    net().stabilize();
    return net().delivered.slice(seen).map(formatMessage);
  };
  const outputs: string[] = [];
  for (const block of blocks) {
    const [verb, ...args] = block.command.split(/\s+/);
    const out: string[] = [];
    switch (verb) {
      case 'cluster': {
        const ids = args.filter((arg) => !arg.includes('='));
        network = new CoreNetwork(ids, parseOptions(args.filter((arg) => arg.includes('='))));
        out.push(`${ids.length} nodes`);
        break;
      }
      case 'add-node':
        net().add(args[0]!, { voters: [], learners: [] });
        out.push(`${args[0]!} added, empty membership`);
        break;
      case 'tick':
        net().tick(args[0]!, Number(args[1] ?? 1));
        out.push(...stabilize());
        break;
      case 'tick-all': {
        const rounds = Number(args[0] ?? 1);
        for (let round = 0; round < rounds; round += 1) {
          for (const id of net().nodes.keys()) net().tick(id);
          out.push(...stabilize().filter((line) => !/ (heartbeat|heartbeat-response) /.test(line)));
        }
        break;
      }
      case 'campaign':
        net().node(args[0]!).core.campaign();
        out.push(...stabilize());
        break;
      case 'stabilize':
        out.push(...stabilize());
        break;
      case 'propose': {
        const result = net().propose(args[0]!, args.slice(1).join(' '));
        out.push(result.ok ? `ok ${result.index}/${result.term}` : `refused ${result.reason} leader=${result.leader ?? 'none'}`);
        out.push(...stabilize());
        break;
      }
      case 'add-learner':
      case 'add-voter':
      case 'remove': {
        const result = net().node(args[0]!).core.proposeMembershipChange({ type: verb, node: args[1]! });
        out.push(result.ok ? `ok ${result.index}/${result.term}` : `refused ${result.reason}`);
        out.push(...stabilize());
        break;
      }
      case 'transfer': {
        const started = net().node(args[0]!).core.transferLeadership(args[1]!);
        out.push(started ? 'transferring' : 'refused');
        out.push(...stabilize());
        break;
      }
      case 'read': {
        const accepted = net().node(args[0]!).core.readIndex(args[1]!);
        out.push(accepted ? 'requested' : 'no leader known');
        out.push(...stabilize());
        break;
      }
      case 'reads':
        out.push(...net().node(args[0]!).readStates.map((read) => `${read.context} at ${read.index}`));
        break;
      case 'snapshot': {
        const node = net().node(args[0]!);
        const snapshot = node.storage.createSnapshot(node.core.log.applied, node.core.membership(), new TextEncoder().encode(`snapshot of ${args[0]!}`));
        out.push(`snapshot ${snapshot.meta.index}/${snapshot.meta.term}`);
        break;
      }
      case 'isolate':
        net().isolate(args[0]!);
        out.push('ok');
        break;
      case 'cut':
        net().cutLink(args[0]!, args[1]!);
        out.push('ok');
        break;
      case 'heal':
        net().heal();
        out.push('ok');
        break;
      case 'restart':
        net().restart(args[0]!);
        out.push(`${args[0]!} restarted at term ${net().node(args[0]!).core.term}`);
        break;
      case 'applied':
        out.push(net().appliedText(args[0]!).join(' ') || '(none)');
        break;
      case 'status': {
        const ids = args.length > 0 ? args : [...net().nodes.keys()];
        for (const id of ids) {
          const status = net().node(id).core.status();
          const members = `voters=${status.membership.voters.join(',')}${status.membership.learners.length > 0 ? ` learners=${status.membership.learners.join(',')}` : ''}`;
          out.push(`${id} ${status.role} t${status.term} leader=${status.leader ?? 'none'} commit=${status.commit} applied=${status.applied} last=${status.lastIndex} ${members}`);
        }
        break;
      }
      default:
        throw new Error(`line ${block.line}: unknown command "${verb ?? ''}"`);
    }
    outputs.push(out.join('\n'));
  }
  return outputs;
}

/** The script with each block's output replaced by `outputs` (to regenerate expectations). */
export function renderScenario(text: string, blocks: readonly ScenarioBlock[], outputs: readonly string[]): string {
  const lines = text.split('\n');
  const result: string[] = [];
  let index = 0;
  for (let block = 0; block < blocks.length; block += 1) {
    const { line } = blocks[block]!;
    while (index < line - 1) result.push(lines[index++]!);
    result.push(lines[index++]!, '----');
    index += 1;
    while (index < lines.length && lines[index]!.trim() !== '') index += 1;
    if (outputs[block]! !== '') result.push(outputs[block]!);
  }
  while (index < lines.length) result.push(lines[index++]!);
  return result.join('\n');
}
