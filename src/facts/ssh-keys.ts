/**
 * OpenSSH public key lines (`type base64 [comment]`), authorized_keys and known_hosts. Files are
 * edited line by line: lines we do not manage stay as they are.
 */
import { gatePins, keyOptions, splitOptions, type KeyAccess } from '../render/authorized-keys';

export interface PublicKey {
  type: string;
  key: string;
  comment?: string;
}

const keyType = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|(sk-ssh-ed25519|sk-ecdsa-sha2-nistp256)@openssh\.com)$/;

export function parsePublicKey(line: string): PublicKey {
  const fields = line.trim().split(/\s+/);
  const [type, key, ...rest] = fields;
  if (!type || !keyType.test(type) || !key || !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) {
    throw new Error(`not an OpenSSH public key line: ${JSON.stringify(line.slice(0, 80))}`);
  }
  const comment = rest.join(' ');
  return comment === '' ? { type, key } : { type, key, comment };
}

function lines(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

function join(ls: string[]): string {
  return ls.length === 0 ? '' : `${ls.join('\n')}\n`;
}

/** The key in an authorized_keys line, which may start with options (`from="..." ssh-ed25519 AAAA...`). */
function keyIn(line: string): { options: string[]; type: string; key: string } | undefined {
  const t = line.trim();
  if (t === '' || t.startsWith('#')) return undefined;
  const { options, rest } = splitOptions(t, (w) => keyType.test(w));
  const [type, key] = rest.split(/\s+/);
  return type !== undefined && keyType.test(type) && key ? { options, type, key } : undefined;
}

const sameKey = (pub: PublicKey) => (l: string) => {
  const k = keyIn(l);
  return k !== undefined && k.type === pub.type && k.key === pub.key;
};

/**
 * The key on one line with the options `access` gives: an unrestricted line, or one with other
 * options, becomes that line (its place kept, duplicates dropped). The pins of a forced command of
 * ours already there are kept too: the same key may serve two stanzas with their own pins.
 */
export function ensureAuthorizedKey(existing: string, pubLine: string, access: KeyAccess): { content: string; changed: boolean } {
  const pub = parsePublicKey(pubLine);
  const matches = sameKey(pub);
  const all = lines(existing);
  const kept = all.flatMap((l) => (matches(l) ? gatePins(keyIn(l)!.options) ?? [] : []));
  const line = [keyOptions({ ...access, pins: [...access.pins, ...kept] }), pub.type, pub.key, pub.comment].filter((x) => x !== undefined).join(' ');
  const out: string[] = [];
  let placed = false;
  for (const l of all) {
    if (!matches(l)) out.push(l);
    else if (!placed) {
      out.push(line);
      placed = true;
    }
  }
  if (!placed) out.push(line);
  const content = join(out);
  return { content, changed: content !== existing };
}

/** Drops every line that authorizes the key, whatever its options. */
export function removeAuthorizedKey(existing: string, pubLine: string): { content: string; changed: boolean } {
  const matches = sameKey(parsePublicKey(pubLine));
  const content = join(lines(existing).filter((l) => !matches(l)));
  return { content, changed: content !== existing };
}

/** `name1,name2 type key` from a host's `ssh_host_*_key.pub` content; the host's own comment is dropped. */
export function knownHostsLine(names: string[], hostKeyLine: string): string {
  if (names.length === 0) throw new Error('a known_hosts line needs at least one host name');
  for (const n of names) {
    if (n === '' || /[\s,#]/.test(n)) throw new Error(`not usable as a known_hosts name: ${JSON.stringify(n)}`);
  }
  const pub = parsePublicKey(hostKeyLine);
  return `${names.join(',')} ${pub.type} ${pub.key}`;
}

/** Names and key of a plain known_hosts line; hashed (`|1|...`) and `@marker` lines are not ours. */
function knownEntry(line: string): { names: string; type: string; key: string } | undefined {
  const t = line.trim();
  if (t === '' || t.startsWith('#') || t.startsWith('|') || t.startsWith('@')) return undefined;
  const [names, type, key] = t.split(/\s+/);
  return names && type && key ? { names, type, key } : undefined;
}

/**
 * Ensures `line` is present: a line with the same names and key type but another key is a host
 * that was rebuilt, and is replaced (the spec's key is the truth); other lines are kept.
 */
export function ensureKnownHosts(existing: string, line: string): { content: string; changed: boolean } {
  const want = knownEntry(line);
  if (!want) throw new Error(`not a known_hosts line: ${JSON.stringify(line.slice(0, 80))}`);
  const out: string[] = [];
  let placed = false;
  for (const l of lines(existing)) {
    const e = knownEntry(l);
    if (e && e.names === want.names && e.type === want.type) {
      if (!placed) out.push(e.key === want.key ? l : line);
      placed = true;
      continue;
    }
    out.push(l);
  }
  if (!placed) out.push(line);
  const content = join(out);
  return { content, changed: content !== existing };
}
