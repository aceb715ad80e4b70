import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * OpenSSH known_hosts, parsed without I/O. Host keys are pinned from this file only: there is no
 * trust on first use, so a host whose key is missing here cannot be reached.
 */

export type HostPattern =
  | { readonly kind: 'plain'; readonly pattern: string; readonly negated: boolean }
  | { readonly kind: 'hashed'; readonly salt: Buffer; readonly hash: Buffer };

export interface KnownHostEntry {
  /** 1-based, for messages. */
  readonly line: number;
  readonly marker?: 'revoked' | 'cert-authority';
  readonly hosts: readonly HostPattern[];
  readonly keyType: string;
  /** The SSH wire-format public key blob (the base64-decoded key field). */
  readonly key: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeBase64(s: string, what: string, line: number): Buffer {
  if (!BASE64.test(s)) throw new Error(`known_hosts line ${line}: ${what} is not base64`);
  return Buffer.from(s, 'base64');
}

function parsePattern(p: string, line: number): HostPattern {
  if (p.startsWith('|1|')) {
    const [salt, hash] = p.slice(3).split('|');
    if (salt === undefined || hash === undefined) throw new Error(`known_hosts line ${line}: malformed hashed host`);
    return { kind: 'hashed', salt: decodeBase64(salt, 'hashed host salt', line), hash: decodeBase64(hash, 'hashed host', line) };
  }
  const negated = p.startsWith('!');
  return { kind: 'plain', pattern: negated ? p.slice(1) : p, negated };
}

/** The key type a blob declares in its first wire-format string ("ssh-ed25519", ...). */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  return n > 0 && 4 + n <= blob.length ? blob.subarray(4, 4 + n).toString('latin1') : undefined;
}

/** Throws on a malformed line (with its number): a broken pin file must not silently pin less. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const fields = raw.trim().split(/[ \t]+/);
    if (fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift();
      if (m !== '@revoked' && m !== '@cert-authority') throw new Error(`known_hosts line ${line}: unknown marker ${m}`);
      marker = m === '@revoked' ? 'revoked' : 'cert-authority';
    }
    const [hosts, keyType, keyField] = fields;
    if (keyField === undefined) throw new Error(`known_hosts line ${line}: expected "hosts keytype key"`);
    const key = decodeBase64(keyField, 'key', line);
    if (blobKeyType(key) !== keyType) throw new Error(`known_hosts line ${line}: key does not match its type ${keyType}`);
    entries.push({ line, marker, hosts: hosts.split(',').map((p) => parsePattern(p, line)), keyType, key });
  });
  return entries;
}

/** OpenSSH wildcards: `*` any run of characters, `?` exactly one. */
function wildcardMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

function hashedMatch(p: { salt: Buffer; hash: Buffer }, name: string): boolean {
  const h = createHmac('sha1', p.salt).update(name).digest();
  return h.length === p.hash.length && timingSafeEqual(h, p.hash);
}

/** An entry applies when a positive pattern matches some name and no negated pattern does. */
function entryMatches(e: KnownHostEntry, names: readonly string[]): boolean {
  let hit = false;
  for (const p of e.hosts) {
    for (const n of names) {
      if (p.kind === 'hashed') {
        hit ||= hashedMatch(p, n);
      } else if (wildcardMatch(p.pattern, n)) {
        if (p.negated) return false;
        hit = true;
      }
    }
  }
  return hit;
}

/**
 * The keys pinned for a host reached by any of `hostNamesOrIps` on `port`. As in OpenSSH, a port
 * other than 22 is part of the name (`[host]:port`). Cert-authority lines are ignored: stanzactl
 * does not verify host certificates.
 */
export function keysFor(
  entries: readonly KnownHostEntry[],
  hostNamesOrIps: string[],
  port: number,
): { accepted: Buffer[]; revoked: Buffer[] } {
  const names = hostNamesOrIps.map((h) => (port === 22 ? h : `[${h}]:${port}`));
  const accepted: Buffer[] = [];
  const revoked: Buffer[] = [];
  for (const e of entries) {
    if (e.marker === 'cert-authority' || !entryMatches(e, names)) continue;
    (e.marker === 'revoked' ? revoked : accepted).push(e.key);
  }
  return { accepted, revoked };
}

/** `SHA256:...` as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export type HostKeyVerdict = 'accepted' | 'unknown' | 'changed' | 'revoked';

/** Revocation wins over any pin; with no pin at all the key is "unknown", else "changed". */
export function verifyHostKey(presented: Buffer, keys: { accepted: Buffer[]; revoked: Buffer[] }): HostKeyVerdict {
  if (keys.revoked.some((k) => k.equals(presented))) return 'revoked';
  if (keys.accepted.some((k) => k.equals(presented))) return 'accepted';
  return keys.accepted.length === 0 ? 'unknown' : 'changed';
}
