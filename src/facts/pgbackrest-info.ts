import { z } from 'zod';
import { withoutResponseContent } from './pgbackrest-exit';

/**
 * `pgbackrest info --output=json` as 2.45 prints it (fixtures in tests/fixtures/pgbackrest/).
 * Objects are not strict: pgBackRest adds fields between releases (annotations, backup progress),
 * and a newer repository host must not break us.
 */
const statusSchema = z.object({
  code: z.number().int(),
  message: z.string(),
  lock: z.object({ backup: z.object({ held: z.boolean() }) }).optional(),
});

const dbRefSchema = z.object({ id: z.number().int(), 'repo-key': z.number().int().optional() });
const startStop = <T extends z.ZodTypeAny>(t: T) => z.object({ start: t, stop: t });

const backupSchema = z.object({
  label: z.string(),
  type: z.enum(['full', 'diff', 'incr']),
  prior: z.string().nullable(),
  reference: z.array(z.string()).nullable().optional(),
  error: z.boolean().optional(),
  timestamp: startStop(z.number()),
  archive: startStop(z.string().nullable()).optional(),
  lsn: startStop(z.string().nullable()).optional(),
  database: dbRefSchema,
  info: z.object({
    size: z.number(),
    delta: z.number(),
    repository: z.object({ size: z.number().optional(), delta: z.number().optional() }),
  }),
});

const stanzaSchema = z.object({
  name: z.string(),
  cipher: z.string(),
  status: statusSchema,
  // system-id arrives as a string: see quoteSystemIds.
  db: z.array(dbRefSchema.extend({ 'system-id': z.string().regex(/^\d+$/), version: z.string() })),
  archive: z.array(z.object({ id: z.string(), min: z.string().nullable(), max: z.string().nullable(), database: dbRefSchema })),
  backup: z.array(backupSchema),
  repo: z.array(z.object({ key: z.number().int(), cipher: z.string(), status: z.object({ code: z.number().int(), message: z.string() }) })).optional(),
});

export interface BackupInfo {
  label: string;
  type: 'full' | 'diff' | 'incr';
  /** Label of the backup this one builds on; null for a full backup. */
  prior: string | null;
  reference: string[];
  /** Set by pgBackRest when page checksum or other errors were found during the backup. */
  error?: boolean;
  /** Epoch seconds. */
  timestamp: { start: number; stop: number };
  /** WAL segment names; null when pgBackRest did not record them. */
  archive: { start: string | null; stop: string | null };
  lsn?: { start: string | null; stop: string | null };
  dbId: number;
  repoKey?: number;
  /** Bytes: `database` = cluster size, `delta` = what this backup copied, `repo`/`repoDelta` = as stored (compressed). */
  sizes: { database: number; delta: number; repo: number; repoDelta: number };
}

export interface StanzaInfo {
  name: string;
  /** pgBackRest's own codes: 0 ok, 1 missing stanza path, 2 no valid backups, 3 missing stanza data, 99 other (message has the error). */
  status: { code: number; message: string; lockHeld: boolean };
  cipher: string;
  /** The database history, oldest first; the last one is the cluster the stanza serves now. */
  db: { id: number; systemId: string; version: string; repoKey?: number }[];
  archive: { id: string; min: string | null; max: string | null; dbId: number; repoKey?: number }[];
  backups: BackupInfo[];
  repos: { key: number; cipher: string; status: { code: number; message: string } }[];
}

/**
 * System identifiers are 64-bit and exceed 2^53: JSON.parse would round them. Quote them in the
 * text first so they stay exact decimal strings.
 */
function quoteSystemIds(json: string): string {
  return json.replace(/("system-id"\s*:\s*)(-?\d+)/g, '$1"$2"');
}

export function parseInfo(json: string): StanzaInfo[] {
  let raw: unknown;
  try {
    raw = JSON.parse(quoteSystemIds(json));
  } catch (e) {
    throw new Error(`pgbackrest info did not print JSON (${(e as Error).message}): ${JSON.stringify(json.slice(0, 200))}`);
  }
  const parsed = z.array(stanzaSchema).safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`unexpected pgbackrest info JSON at ${first.path.join('.')}: ${first.message}`);
  }
  return parsed.data.map((s) => ({
    name: s.name,
    status: { code: s.status.code, message: withoutResponseContent(s.status.message), lockHeld: s.status.lock?.backup.held ?? false },
    cipher: s.cipher,
    db: s.db.map((d) => ({ id: d.id, systemId: d['system-id'], version: d.version, repoKey: d['repo-key'] })),
    archive: s.archive.map((a) => ({ id: a.id, min: a.min, max: a.max, dbId: a.database.id, repoKey: a.database['repo-key'] })),
    backups: s.backup.map((b) => ({
      label: b.label,
      type: b.type,
      prior: b.prior,
      reference: b.reference ?? [],
      error: b.error,
      timestamp: b.timestamp,
      archive: b.archive ?? { start: null, stop: null },
      lsn: b.lsn,
      dbId: b.database.id,
      repoKey: b.database['repo-key'],
      sizes: {
        database: b.info.size,
        delta: b.info.delta,
        repo: b.info.repository.size ?? 0,
        repoDelta: b.info.repository.delta ?? 0,
      },
    })),
    repos: (s.repo ?? []).map((r) => ({ ...r, status: { code: r.status.code, message: withoutResponseContent(r.status.message) } })),
  }));
}

/** The repositories pgBackRest reports for the stanza (repo1 alone before it reported any). */
export function repoKeys(stanza: StanzaInfo | null): number[] {
  return stanza && stanza.repos.length > 0 ? stanza.repos.map((r) => r.key) : [1];
}

/** The database the stanza serves now: the newest of its history. */
export function currentDb(s: StanzaInfo): StanzaInfo['db'][number] | undefined {
  return s.db.reduce<StanzaInfo['db'][number] | undefined>((best, d) => (best === undefined || d.id > best.id ? d : best), undefined);
}

/** The archive directory of the current database: pgBackRest names it `<version>-<db id>` (e.g. 15-1). */
export function currentArchiveId(s: StanzaInfo): string | undefined {
  const db = currentDb(s);
  return db && (s.archive.find((a) => a.dbId === db.id)?.id ?? `${db.version}-${db.id}`);
}

/** System identifier of the cluster the stanza serves now, as an exact decimal string. */
export function systemIdOf(s: StanzaInfo): string | undefined {
  return currentDb(s)?.systemId;
}

/**
 * Full backups of the current database, oldest first. Backups taken before a stanza-upgrade
 * belong to another cluster and cannot seed a standby of this one.
 */
export function fullBackups(s: StanzaInfo): BackupInfo[] {
  return currentBackups(s).filter((b) => b.type === 'full');
}

/** Every backup of the current database, oldest first. */
export function currentBackups(s: StanzaInfo): BackupInfo[] {
  const db = currentDb(s);
  return s.backups.filter((b) => db === undefined || b.dbId === db.id);
}
