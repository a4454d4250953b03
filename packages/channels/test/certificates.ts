// Test-time certificates made with the openssl CLI: a cluster CA, node certificates it signs
// (subject CN = node id, SAN IP 127.0.0.1), one whose node id is only in a DNS SAN (its CN is a
// host name), and a rogue CA with its own node certificate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export interface TestCertificates {
  readonly ca: string;
  readonly nodeA: Pem;
  readonly nodeB: Pem;
  /** CN "host-c.example", SAN DNS:node-c: the node id is in a subject alternative name. */
  readonly nodeC: Pem;
  readonly rogueCa: string;
  readonly rogue: Pem;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`]);
}

function makeNode(dir: string, name: string, ca: string, { commonName = name, extraNames = '' } = {}): Pem {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=IP:127.0.0.1,DNS:localhost${extraNames}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${commonName}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  return { cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
}

export function generateCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'channels-certs-'));
  try {
    makeCa(dir, 'cluster-ca');
    makeCa(dir, 'rogue-ca');
    return {
      ca: readFileSync(join(dir, 'cluster-ca.crt'), 'utf8'),
      nodeA: makeNode(dir, 'node-a', 'cluster-ca'),
      nodeB: makeNode(dir, 'node-b', 'cluster-ca'),
      nodeC: makeNode(dir, 'node-c', 'cluster-ca', { commonName: 'host-c.example', extraNames: ',DNS:node-c' }),
      rogueCa: readFileSync(join(dir, 'rogue-ca.crt'), 'utf8'),
      rogue: makeNode(dir, 'rogue', 'rogue-ca'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
