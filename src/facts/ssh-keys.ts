/**
 * OpenSSH public key lines (`type base64 [comment]`), authorized_keys and known_hosts. Files are
 * edited line by line: lines we do not manage stay as they are.
 */
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
function keyIn(line: string): { type: string; key: string } | undefined {
  const t = line.trim();
  if (t === '' || t.startsWith('#')) return undefined;
  const fields = t.split(/\s+/);
  const i = fields.findIndex((f) => keyType.test(f));
  return i >= 0 && fields[i + 1] ? { type: fields[i], key: fields[i + 1] } : undefined;
}

/** Appends the key unless the same type+key is authorized already (whatever its comment or options). */
export function ensureAuthorizedKey(existing: string, pubLine: string): { content: string; changed: boolean } {
  const pub = parsePublicKey(pubLine);
  const present = lines(existing).some((l) => {
    const k = keyIn(l);
    return k !== undefined && k.type === pub.type && k.key === pub.key;
  });
  if (present) return { content: existing, changed: false };
  const line = [pub.type, pub.key, pub.comment].filter((x) => x !== undefined).join(' ');
  return { content: join([...lines(existing), line]), changed: true };
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
