import { describe, expect, it } from '@jest/globals';
import type { PeerCertificate } from 'node:tls';
import { certificateNamesNode, parseSubjectAltNames } from './certificate-identity';

const certificate = (subject: Record<string, unknown>, subjectaltname?: string): PeerCertificate => ({ subject, subjectaltname }) as unknown as PeerCertificate;

describe('binding node ids to certificates', () => {
  it.each([
    ['plain entries', 'DNS:localhost, URI:foundation://node-x, IP Address:127.0.0.1', [['DNS', 'localhost'], ['URI', 'foundation://node-x'], ['IP Address', '127.0.0.1']]],
    // Node quotes values with separators or quotes as JSON string literals.
    ['quoted entries', 'DNS:localhost, DNS:"we\\u002cird\\"q", URI:foundation://node-x', [['DNS', 'localhost'], ['DNS', 'we,ird"q'], ['URI', 'foundation://node-x']]],
    ['an empty text', '', []],
    ['a malformed quoted entry stops the parse', 'DNS:a, DNS:"\\x", DNS:b', [['DNS', 'a']]],
  ])('parses %s of subjectaltname', (_name, text, expected) => {
    expect(parseSubjectAltNames(text)).toEqual(expected);
  });

  it.each([
    ['the subject CN', certificate({ CN: 'node-a' }), 'node-a', true],
    ['one of several CNs', certificate({ CN: ['x', 'node-a'] }), 'node-a', true],
    ['a DNS name', certificate({ CN: 'host' }, 'DNS:localhost, DNS:node-a'), 'node-a', true],
    ['a URI', certificate({ CN: 'host' }, 'URI:spiffe://cluster/node-a, URI:node-a'), 'node-a', true],
    ['a quoted DNS name', certificate({ CN: 'host' }, 'DNS:"node\\u002ca"'), 'node,a', true],
    ['another CN', certificate({ CN: 'node-b' }, 'DNS:localhost'), 'node-a', false],
    ['an IP address or e-mail with the same text', certificate({ CN: 'host' }, 'IP Address:node-a, email:node-a'), 'node-a', false],
    ['a prefix of a name', certificate({ CN: 'node-ab' }, 'DNS:node-ab'), 'node-a', false],
    ['a certificate without subject', certificate({}), 'node-a', false],
  ])('%s', (_name, peerCertificate, nodeId, expected) => {
    expect(certificateNamesNode(nodeId, peerCertificate)).toBe(expected);
  });
});
