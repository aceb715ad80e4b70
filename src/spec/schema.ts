import { z } from 'zod';
import { cronProblem } from './cron';
import { DURATION, durationMs } from './duration';
import { isSecretOption } from './secret-options';
import { drillCheckProblem } from './drill-check';

const MIN_STATUS_EVERY_MS = 10_000;

// Every value below may reach a host: as an argument (quoted, but a value that starts with "-" is
// still read as an option by the program that gets it), in a config file, or, through pgBackRest,
// on the command line it sends to other hosts over SSH, where only values with a space are
// (double-)quoted. So each format is the narrowest a DBA needs, and none may start with "-".

// Names end up in pgbackrest.conf section headers, file names and workflow ids:
// keep them to characters that need no escaping anywhere.
const stanzaName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'letters, digits, "_" and "-" only, starting with a letter or digit');
const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_NAME = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
// Loose on purpose (the SSH client and PostgreSQL judge the address), but it cannot start with "-".
const IPV6 = /^[0-9A-Fa-f]*:[0-9A-Fa-f:.]*$/;
export const hostName = z
  .string()
  .max(253)
  .refine((h) => {
    const v4 = IPV4.exec(h);
    if (v4) return v4.slice(1).every((o) => Number(o) <= 255);
    return DNS_NAME.test(h) || IPV6.test(h);
  }, 'a host name (letters, digits, "-" and "." between labels, not starting with "-") or an IP address');
const osUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a POSIX user name: lower-case letters, digits, "_" and "-", starting with a letter or "_"');
const sqlRole = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier');
const noDotDot = (p: string) => !p.split('/').includes('..');
// Paths on the hosts: pgBackRest passes pg1-path, repo1-path and the like to other hosts through a
// remote shell, so no character a shell treats specially (space included: it is where pgBackRest
// starts quoting, with double quotes that still expand "$").
export const absPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._+@,:\/-]*$/, 'an absolute path of letters, digits and . _ + @ , : / - only')
  .refine(noDotDot, 'must not contain ".."');
// Paths on the worker (key, known_hosts, secret files): read by the worker itself, never by a shell.
const localPath = z
  .string()
  .regex(/^\/[^\0\n\r]*$/, 'an absolute path (no newline)')
  .refine(noDotDot, 'must not contain ".."');
export const port = z.number().int().min(1).max(65535);
const duration = z.string().regex(DURATION, 'a duration such as 90s, 30m, 26h, 8d or 2w');
const cron = z.string().superRefine((text, ctx) => {
  const problem = cronProblem(text);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});
const timezone = z.string().regex(/^[A-Za-z][A-Za-z0-9_+\-\/]{0,63}$/, 'an IANA time zone name, e.g. UTC or Europe/Paris');

// SQL the DBA wants true on a restored copy: one query that reads, in the grammar of spec/drill-check.ts.
const drillCheck = z
  .string()
  .max(4000)
  .superRefine((sql, ctx) => {
    const problem = drillCheckProblem(sql);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a drill check stanzactl runs: ${problem}` });
  });

// The data directory is emptied and removed after every drill: never a top-level or system directory.
const drillDataDir = absPath.refine((p) => p.split('/').filter(Boolean).length >= 2, 'at least two levels deep (the drill removes it after each run)');

/** Restore drills on a scratch host that is no node of the cluster (spec/validate.ts judges the host against the nodes). */
const drills = z
  .object({
    host: hostName,
    dataDir: drillDataDir,
    port: port,
    schedule: cron.optional(),
    timezone: timezone.optional(),
    checks: z.array(drillCheck).max(50).optional(),
  })
  .strict();

/**
 * The replication password's value, resolved on the worker: it goes into one ~/.pgpass line and a
 * SCRAM verifier computed on the worker. PostgreSQL runs a password through SASLprep first, which
 * leaves ASCII as it is but may map, normalize or refuse other characters: rather than reimplement
 * RFC 4013, printable ASCII only, so worker and server always hash the same bytes.
 */
export const passwordText = z
  .string()
  .regex(/^[\x20-\x7e]+$/, 'printable ASCII only (no newline or other control character, nothing beyond ASCII: stanzactl computes the SCRAM verifier on the worker)');

export const secretRef = z.union([
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }).strict(),
  z.object({ file: localPath }).strict(),
]);

const control = z.discriminatedUnion('type', [
  z.object({ type: z.literal('pg_ctlcluster'), cluster: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/, 'a cluster name: letters, digits, "_" and "-", not starting with "-"') }).strict(),
  z.object({ type: z.literal('pg_ctl') }).strict(),
  z.object({ type: z.literal('systemd'), unit: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9@._-]{0,254}$/, 'a systemd unit name: letters, digits, "@", ".", "_" and "-", not starting with "-" or "."') }).strict(),
]);

/** Node names double as host names (a node without `host` is reached by its name). */
export const nodeName = hostName;

const node = z
  .object({
    name: nodeName,
    host: hostName.optional(),
    role: z.enum(['primary', 'standby']),
  })
  .strict();

// pgBackRest option names and values go into an ini file, and pgBackRest repeats every option that
// is not secret on the command line it runs on other hosts over SSH, quoting only values with a
// space, and then in double quotes: no character a shell expands, even inside double quotes.
// A value may be a secret reference, resolved on the worker; options that hold secrets must be
// one, since a literal value travels in workflow history and Schedule arguments. A reference's
// value, once the worker resolved it, is held to the same rule as a literal (activities/secrets.ts).
export const optionText = z
  .string()
  .regex(/^[A-Za-z0-9._+@,:\/=%][A-Za-z0-9 ._+@,:\/=%-]*$/, 'letters, digits, space and . _ + @ , : / = % - only, not starting with "-" or a space (pgBackRest passes options to other hosts through a shell)');
const repoOptions = z
  .record(
    z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,63}$/, 'a pgBackRest option name')
      // cmd, cmd-ssh, repo1-host-cmd, pg1-host-cmd: programs pgBackRest runs; a spec chooses none.
      .refine((k) => k !== 'cmd' && !k.startsWith('cmd-') && !k.endsWith('-cmd'), 'names a program pgBackRest runs on the hosts: not settable from a spec'),
    z.union([
      optionText,
      z.number(),
      z.boolean(),
      secretRef,
    ]),
  )
  .superRefine((options, ctx) => {
    for (const [name, value] of Object.entries(options)) {
      if (isSecretOption(name) && typeof value !== 'object') {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: `${name} is a secret: give a reference ({env: NAME} or {file: PATH}), never the value` });
      }
    }
  });

// pgBackRest sizes: bytes, or a number with a unit it reads as a power of 1024.
const byteSize = z.union([
  z.number().int().min(0),
  z.string().regex(/^[0-9]+(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/, 'bytes, or a number with KB, MB, GB, TB (powers of 1024; KiB ... TiB too)'),
]);

// The levels pgBackRest 2.45 accepts per compression type.
export const COMPRESS_LEVELS = { gz: [0, 9], bz2: [1, 9], lz4: [-5, 12], zst: [-7, 22] } as const;

/** The pgBackRest option each tuning field writes. */
export const TUNING_KEYS = {
  compressType: 'compress-type',
  compressLevel: 'compress-level',
  processMax: 'process-max',
  bundle: 'repo1-bundle',
  archiveAsync: 'archive-async',
  spoolPath: 'spool-path',
  archivePushQueueMax: 'archive-push-queue-max',
  archiveGetQueueMax: 'archive-get-queue-max',
} as const;

/** Speed settings every host's pgbackrest.conf gets; each absent one takes stanzactl's default (README). */
const pgbackrestTuning = z
  .object({
    compressType: z.enum(['zst', 'lz4', 'gz', 'bz2', 'none']).optional(),
    compressLevel: z.number().int().optional(),
    processMax: z.number().int().min(1).max(64).optional(),
    bundle: z.boolean().optional(),
    archiveAsync: z.boolean().optional(),
    spoolPath: absPath.optional(),
    archivePushQueueMax: byteSize.optional(),
    archiveGetQueueMax: byteSize.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.compressLevel === undefined) return;
    const type = t.compressType ?? 'zst';
    if (type === 'none') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['compressLevel'], message: 'compressType none takes no level' });
      return;
    }
    const [min, max] = COMPRESS_LEVELS[type];
    if (t.compressLevel < min || t.compressLevel > max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['compressLevel'], message: `${type} levels run from ${min} to ${max}` });
    }
  });

/** The cron of each backup type, and their time zone: `backups.schedule` without the catch-up window (one for all of a stanza's schedules). */
const backupCrons = {
  full: cron.optional(),
  diff: cron.optional(),
  incr: cron.optional(),
  timezone: timezone.optional(),
};

/**
 * repo2, offsite on S3-compatible object storage. pgBackRest reaches it from every host that runs it
 * for the stanza: backups and expire on the repository host, archive-push and restores on the
 * nodes (and restores on a drill's host), so each gets the bucket, the keys and the CA.
 */
const s3Offsite = z
  .object({
    type: z.literal('s3'),
    // A DNS name: pgBackRest checks it against the server certificate's names (an IP address is refused there).
    endpoint: hostName.refine((h) => DNS_NAME.test(h) && !IPV4.test(h), 'a DNS name (pgBackRest verifies it against the certificate; an IP address is refused)'),
    port: port.optional(),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3-63 lower-case letters, digits, "." and "-"'),
    region: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a region name: lower-case letters, digits and "-"'),
    uriStyle: z.enum(['host', 'path']).optional(),
    // On the hosts, not the worker: pgBackRest verifies the server's certificate with it (verification is never turned off).
    caFile: absPath.optional(),
    accessKey: secretRef,
    secretKey: secretRef,
    // Encrypts what the nodes and the repository host write there (aes-256-cbc): the bucket's owner reads nothing.
    cipherPass: secretRef.optional(),
    path: absPath,
    retentionFull: z.number().int().min(1).max(9999999),
    schedule: z.object(backupCrons).strict().optional(),
    // status exits 1 past it: repo1's backups.maxAge does not see repo2 falling behind.
    maxAge: z.object({ full: duration.optional(), any: duration.optional() }).strict().optional(),
    // Seconds the nodes' archive-push waits on each request to an unreachable repo2 (render/pgbackrest-conf.ts archivePushSettings).
    archiveIoTimeout: z.number().int().min(1).max(600).optional(),
  })
  .strict();

export const specSchema = z
  .object({
    stanza: stanzaName,
    ssh: z
      .object({
        user: osUser,
        privateKeyFile: localPath,
        knownHostsFile: localPath,
        port: port.optional(),
      })
      .strict(),
    repository: z
      .object({
        host: hostName,
        user: osUser,
        path: absPath,
        retentionFull: z.number().int().min(1).max(9999999),
        // pgBackRest runs at once on this host across all its stanzas (workflows/budget.ts).
        budget: z.number().int().min(1).max(64).optional(),
        options: repoOptions.optional(),
      })
      .strict(),
    postgres: z
      .object({
        version: z.number().int().min(10).max(99),
        osUser: osUser,
        port: port,
        dataDir: absPath,
        binDir: absPath,
        configDir: absPath.optional(),
        control: control,
      })
      .strict(),
    pgbackrest: pgbackrestTuning.optional(),
    nodes: z.array(node).min(1),
    replication: z.object({ user: sqlRole, password: secretRef }).strict(),
    backups: z
      .object({
        // pgBackRest knows y/n; "prefer" is decided per run: a standby when one streams, else the primary.
        fromStandby: z.union([z.boolean(), z.literal('prefer')]).optional(),
        schedule: z
          .object({ ...backupCrons, catchupWindow: duration.optional() })
          .strict()
          .optional(),
        // drill: the last good restore drill (drills:) must be younger; a failed last drill breaks it too.
        maxAge: z.object({ full: duration.optional(), any: duration.optional(), drill: duration.optional() }).strict().optional(),
      })
      .strict()
      .optional(),
    // How often `schedule apply`'s status-<stanza>@<repo> schedule reads the stanza, so the workers' gauges stay fresh.
    status: z.object({ every: duration }).strict().optional(),
    drills: drills.optional(),
    // repo2: the stanza's offsite copy (3-2-1), beside repo1 on the repository host.
    offsite: z.discriminatedUnion('type', [s3Offsite]).optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const primaries = spec.nodes.filter((n) => n.role === 'primary');
    if (primaries.length !== 1) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['nodes'], message: `exactly one node must have role primary (found ${primaries.length})` });
    }
    const seen = new Map<string, number>();
    spec.nodes.forEach((n, i) => {
      if (seen.has(n.name)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['nodes', i, 'name'], message: `duplicate node name "${n.name}" (also nodes[${seen.get(n.name)}])` });
      }
      seen.set(n.name, i);
    });
    if (spec.postgres.control.type === 'pg_ctlcluster' && !spec.postgres.configDir) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['postgres', 'configDir'], message: 'pg_ctlcluster (Debian layout) keeps its config outside the data directory: set configDir' });
    }
    if (spec.status && DURATION.test(spec.status.every) && durationMs(spec.status.every) < MIN_STATUS_EVERY_MS) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['status', 'every'], message: 'at least 10s: each run reads every host over SSH' });
    }
    for (const [field, key] of Object.entries(TUNING_KEYS)) {
      if (spec.pgbackrest?.[field as keyof typeof TUNING_KEYS] !== undefined && spec.repository.options?.[key] !== undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['repository', 'options', key], message: `${key} is set by pgbackrest.${field}: remove one` });
      }
    }
    if (spec.backups?.maxAge?.drill !== undefined && !spec.drills) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['backups', 'maxAge', 'drill'], message: 'a drill age limit needs a drills: section that says where drills run' });
    }
    if (spec.drills?.checks?.length && spec.postgres.version < 14) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['drills', 'checks'], message: 'checks run as a role with pg_read_all_data, which PostgreSQL 14 brought: none before it' });
    }
    if (spec.offsite && spec.pgbackrest?.archiveAsync === false) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['pgbackrest', 'archiveAsync'], message: 'an offsite repository needs asynchronous archiving: without it, WAL reaches repo1 at most one segment ahead of an unreachable repo2' });
    }
    const repo2Option = spec.offsite && Object.keys(spec.repository.options ?? {}).find((k) => k.startsWith('repo2-'));
    if (repo2Option) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['repository', 'options', repo2Option], message: `${repo2Option}: repo2 is the offsite: section's, set it there` });
    }
    if (spec.backups?.fromStandby && !spec.nodes.some((n) => n.role === 'standby')) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['backups', 'fromStandby'], message: 'backups from a standby need at least one standby node' });
    }
  });

export type Spec = z.infer<typeof specSchema>;
export type SpecNode = Spec['nodes'][number];
export type SecretRef = z.infer<typeof secretRef>;
export type PgbackrestTuning = NonNullable<Spec['pgbackrest']>;
export type Control = Spec['postgres']['control'];
export type DrillSettings = NonNullable<Spec['drills']>;
export type Offsite = NonNullable<Spec['offsite']>;
/** pgBackRest's index of a repository: 1 on the repository host, 2 offsite. */
export type RepoIndex = 1 | 2;
/** The repository index offsite: pgBackRest's repo2. */
export const OFFSITE_REPO = 2;
export type BackupType = 'full' | 'diff' | 'incr';
export const BACKUP_TYPES: readonly BackupType[] = ['full', 'diff', 'incr'];
/** A backup to the offsite repository (repo2), on its own Schedule. */
export type OffsiteKind = `offsite-${BackupType}`;
export const OFFSITE_KINDS: readonly OffsiteKind[] = ['offsite-full', 'offsite-diff', 'offsite-incr'];
/** What a stanza's Temporal Schedules run: one backup type each (to repo1, or to repo2 offsite), and the restore drill. */
export type ScheduleKind = BackupType | OffsiteKind | 'drill';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = [...BACKUP_TYPES, ...OFFSITE_KINDS, 'drill'];
