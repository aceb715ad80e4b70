import { isIPv4, isIPv6 } from 'node:net';

// Words pg_hba.conf reads as keywords unless quoted.
const hbaKeywords = new Set(['all', 'sameuser', 'samerole', 'samegroup', 'replication']);

/** A user name as pg_hba.conf reads it: quoted when it could be mistaken for a keyword, group (+) or file (@). */
function hbaToken(s: string): string {
  if (s.includes('"') || /[\n\r\0]/.test(s)) throw new Error(`pg_hba.conf cannot express the name ${JSON.stringify(s)}`);
  return /^[A-Za-z0-9_.-]+$/.test(s) && !hbaKeywords.has(s) ? s : `"${s}"`;
}

/** A single address becomes a one-host CIDR; a host name (or a CIDR already) stays as given. */
function hbaAddress(address: string): string {
  if (isIPv4(address)) return `${address}/32`;
  if (isIPv6(address)) return `${address}/128`;
  return address;
}

/** A SCRAM `host` line for one user into one database (`replication`: streaming) from `address`. */
export function hostHbaLine(database: 'replication' | 'postgres', user: string, address: string): string {
  return ['host', database, hbaToken(user), hbaAddress(address), 'scram-sha-256'].join('    ');
}

/** The line's meaning: fields split on whitespace, a trailing comment (outside quotes) dropped. */
function normalize(line: string): string {
  let inQuotes = false;
  let end = line.length;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') inQuotes = !inQuotes;
    else if (line[i] === '#' && !inQuotes) {
      end = i;
      break;
    }
  }
  return line.slice(0, end).trim().split(/\s+/).join(' ');
}

export const ADDED_MARK = '# added by stanzactl';

/**
 * Appends the lines that are not there yet, under a marker comment. pg_hba.conf is read top-down,
 * first match wins: appended lines only serve connections no earlier line already matches.
 */
export function ensureLines(existing: string, lines: string[]): { content: string; added: string[] } {
  const present = new Set(existing.split('\n').map(normalize).filter((l) => l !== ''));
  const added: string[] = [];
  for (const line of lines) {
    const n = normalize(line);
    if (n === '' || present.has(n)) continue;
    present.add(n);
    added.push(line);
  }
  if (added.length === 0) return { content: existing, added };
  const base = existing === '' || existing.endsWith('\n') ? existing : `${existing}\n`;
  return { content: `${base}${ADDED_MARK}\n${added.join('\n')}\n`, added };
}
