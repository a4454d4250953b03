// Binding node ids to TLS certificates: with mutual TLS every member holds a certificate from
// the cluster CA, and a node id claimed in the handshake must be one of the names in the
// peer's certificate — its subject common name, or a DNS or URI subject alternative name.
// Without this, any member could claim any other member's id.
import type { PeerCertificate } from 'node:tls';

/** Decides whether `certificate` may speak for `nodeId`. */
export type NodeIdBinding = (nodeId: string, certificate: PeerCertificate) => boolean;

/**
 * Parses Node's `subjectaltname` text ("DNS:a, URI:b, IP Address:1.2.3.4") into [type, value]
 * pairs. Values holding separators or quotes come as JSON string literals (`DNS:"a\u002cb"`).
 */
export function parseSubjectAltNames(text: string): [string, string][] {
  const names: [string, string][] = [];
  let index = 0;
  while (index < text.length) {
    const colon = text.indexOf(':', index);
    if (colon < 0) break;
    const type = text.slice(index, colon).trim();
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      // A JSON string literal: find its closing quote, skipping escaped characters.
      let end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      } catch {
        return names; // malformed: keep what was parsed, bind nothing more
      }
      next = text.indexOf(',', end + 1);
    } else {
      next = text.indexOf(', ', colon + 1);
      value = text.slice(colon + 1, next < 0 ? text.length : next);
    }
    names.push([type, value]);
    if (next < 0) break;
    index = next + 1;
    while (text[index] === ' ') index += 1;
  }
  return names;
}

/** The default binding: the node id equals the subject CN, a DNS name or a URI of the certificate. */
export const certificateNamesNode: NodeIdBinding = (nodeId, certificate) => {
  const commonName: unknown = certificate.subject?.CN;
  const commonNames = Array.isArray(commonName) ? (commonName as unknown[]) : [commonName];
  if (commonNames.includes(nodeId)) return true;
  const alternatives = typeof certificate.subjectaltname === 'string' ? parseSubjectAltNames(certificate.subjectaltname) : [];
  return alternatives.some(([type, value]) => (type === 'DNS' || type === 'URI') && value === nodeId);
};
