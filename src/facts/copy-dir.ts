/**
 * Whose a copy's data directory is. stanzactl claims a directory for one stanza and one purpose (a
 * drill, a `restore --to`) only while it is empty or absent, and keeps the claim in a root-owned file
 * on the copy host, outside the directory: the database account can neither forge nor remove it, and
 * a delta restore (pgBackRest removes every file of the data directory its manifest lacks) never
 * sees it. The claim names the directory's inode, so a directory removed and made again by someone
 * else is not the one claimed. Pure: the activities read the facts, this decides.
 */

export type CopyPurpose = 'drill' | 'restore';

export interface CopyClaim {
  readonly stanza: string;
  readonly purpose: CopyPurpose;
  /** `stat -c %d:%i` of the directory when it was claimed. */
  readonly inode: string;
}

/** What is at the directory, as COPY_DIR_FACTS (activities/copy-dir.ts) prints it. */
export interface CopyDirFacts {
  readonly kind: 'absent' | 'directory' | 'other';
  readonly inode: string;
  /** Undefined when the database account cannot list it. */
  readonly entries?: number;
  /** The cluster's system identifier when global/pg_control is there and readable. */
  readonly systemId?: string;
  /** A postmaster runs on it (pg_ctl status). */
  readonly running: boolean;
  readonly claim?: CopyClaim;
}

export function renderClaim(c: CopyClaim, dataDir: string): string {
  return `${c.stanza} ${c.purpose} ${c.inode} ${dataDir}\n`;
}

export function parseClaim(text: string): CopyClaim | undefined {
  const [stanza, purpose, inode] = text.trim().split(' ');
  if (!stanza || (purpose !== 'drill' && purpose !== 'restore') || !/^\d+:\d+$/.test(inode ?? '')) return undefined;
  return { stanza, purpose, inode };
}

/** The output of FACTS (activities/copy-dir.ts): `kind inode entries`, `system-id ID|-`, `running yes|no`, then the claim file's line (or nothing). */
export function parseCopyDirFacts(out: string): CopyDirFacts {
  const [head = '', sys = '', run = '', claim = ''] = out.split('\n');
  const [kind, inode = '-', entries = '0'] = head.trim().split(' ');
  const systemId = sys.trim().split(' ')[1];
  return {
    kind: kind === 'absent' || kind === 'directory' ? kind : 'other',
    inode,
    entries: /^\d+$/.test(entries) ? Number(entries) : undefined,
    systemId: systemId && /^\d+$/.test(systemId) ? systemId : undefined,
    running: run.trim() === 'running yes',
    claim: parseClaim(claim),
  };
}

export type CopyDirVerdict =
  /** Empty or absent: stanzactl may claim it. */
  | { readonly use: 'claim' }
  /** Holds what stanzactl put there for this stanza and purpose: may be reused (delta) and emptied. */
  | { readonly use: 'ours' }
  | { readonly use: 'refused'; readonly why: string };

const FOR: Record<CopyPurpose, string> = { drill: 'drills', restore: 'restores' };
const MADE: Record<CopyPurpose, string> = { drill: 'its drills', restore: 'a restore --to' };

export interface CopyDirWant {
  readonly stanza: string;
  readonly purpose: CopyPurpose;
  /** The system identifiers of the stanza's clusters (pgbackrest info): a copy of it has one of them. */
  readonly systemIds: readonly string[];
  /** stanzactl's own creation of the copy's config was interrupted: what it left is ours. */
  readonly interrupted: boolean;
}

/**
 * Whether a drill or restore may use the directory: an empty one is claimed (the lock holds two
 * users apart), a full one only when stanzactl's claim for this stanza and purpose is on it and
 * what it holds is a copy of the stanza (or what stanzactl left mid-way). Anything else is named.
 */
export function judgeCopyDir(f: CopyDirFacts, want: CopyDirWant): CopyDirVerdict {
  if (f.kind === 'other') return { use: 'refused', why: 'is not a directory (a symbolic link or a file) that stanzactl did not create: refused, nothing changed' };
  if (f.kind === 'absent' || f.entries === 0) return { use: 'claim' };
  const claimed = f.claim !== undefined && f.claim.inode === f.inode ? f.claim : undefined;
  const ofStanza = f.systemId === undefined || want.systemIds.includes(f.systemId) || want.interrupted;
  if (claimed && claimed.stanza === want.stanza && claimed.purpose === want.purpose && ofStanza) return { use: 'ours' };
  const state = f.systemId === undefined ? '' : ` (system id ${f.systemId}, ${f.running ? 'running' : 'stopped'})`;
  const what = claimed && (claimed.stanza !== want.stanza || ofStanza)
    ? `holds a copy of stanza ${claimed.stanza}${state} that stanzactl restored for ${MADE[claimed.purpose]}, not for ${FOR[want.purpose]} of stanza ${want.stanza}`
    : f.systemId !== undefined
      ? `holds a PostgreSQL cluster${state} that stanzactl did not create for ${FOR[want.purpose]} of stanza ${want.stanza}`
      : `holds ${f.entries === undefined ? 'files' : `${f.entries} entries`}${f.running ? ' and a running server' : ''} that stanzactl did not put there for ${FOR[want.purpose]} of stanza ${want.stanza}`;
  return { use: 'refused', why: `${what}: refused, nothing changed. Choose another directory, or move what is there away` };
}
