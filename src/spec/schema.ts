import { z } from 'zod';
import { DURATION } from './duration';

// Names end up in pgbackrest.conf section headers, file names and workflow ids:
// keep them to characters that need no escaping anywhere.
const stanzaName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'letters, digits, "_" and "-" only, starting with a letter or digit');
const hostName = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^[0-9a-fA-F:]+$/, 'a host name or an IP address');
const osUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a POSIX user name');
const sqlRole = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier');
const absPath = z
  .string()
  .regex(/^\/[^\0\n]*$/, 'an absolute path')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');
const port = z.number().int().min(1).max(65535);
const duration = z.string().regex(DURATION, 'a duration such as 90s, 30m, 26h, 8d or 2w');
// Five cron fields (minute hour day-of-month month day-of-week), as Temporal Schedules take them.
const cron = z.string().regex(/^\s*[0-9A-Za-z*\/,-]+(\s+[0-9A-Za-z*\/,-]+){4}\s*$/, 'a cron expression with five fields, e.g. "30 1 * * 0"');

export const secretRef = z.union([
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }).strict(),
  z.object({ file: absPath }).strict(),
]);

const control = z.discriminatedUnion('type', [
  z.object({ type: z.literal('pg_ctlcluster'), cluster: z.string().regex(/^[A-Za-z0-9_-]+$/) }).strict(),
  z.object({ type: z.literal('pg_ctl') }).strict(),
  z.object({ type: z.literal('systemd'), unit: z.string().regex(/^[A-Za-z0-9@._-]+$/) }).strict(),
]);

const node = z
  .object({
    name: hostName,
    host: hostName.optional(),
    role: z.enum(['primary', 'standby']),
  })
  .strict();

// pgBackRest option names and values go into an ini file: no newlines, no "=" in keys. A value
// may be a secret reference, resolved on the worker; options that hold secrets must be one, since
// a literal value travels in workflow history and Schedule arguments.
const secretOption = /^repo\d+-(cipher-pass|s3-key|s3-key-secret|s3-token|azure-key)$/;
const repoOptions = z
  .record(
    z.string().regex(/^[a-z0-9-]+$/, 'a pgBackRest option name'),
    z.union([z.string().regex(/^[^\n\r]*$/, 'a single line'), z.number(), z.boolean(), secretRef]),
  )
  .superRefine((options, ctx) => {
    for (const [name, value] of Object.entries(options)) {
      if (secretOption.test(name) && typeof value !== 'object') {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: `${name} is a secret: give a reference ({env: NAME} or {file: PATH}), never the value` });
      }
    }
  });

export const specSchema = z
  .object({
    stanza: stanzaName,
    ssh: z
      .object({
        user: osUser,
        privateKeyFile: absPath,
        knownHostsFile: absPath,
        port: port.optional(),
      })
      .strict(),
    repository: z
      .object({
        host: hostName,
        user: osUser,
        path: absPath,
        retentionFull: z.number().int().min(1).max(9999999),
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
    nodes: z.array(node).min(1),
    replication: z.object({ user: sqlRole, password: secretRef }).strict(),
    backups: z
      .object({
        // pgBackRest knows y/n; "prefer" is decided per run: a standby when one streams, else the primary.
        fromStandby: z.union([z.boolean(), z.literal('prefer')]).optional(),
        schedule: z
          .object({
            full: cron.optional(),
            diff: cron.optional(),
            incr: cron.optional(),
            timezone: z.string().regex(/^[A-Za-z0-9_+\-\/]+$/, 'an IANA time zone name, e.g. UTC or Europe/Paris').optional(),
            catchupWindow: duration.optional(),
          })
          .strict()
          .optional(),
        maxAge: z.object({ full: duration.optional(), any: duration.optional() }).strict().optional(),
      })
      .strict()
      .optional(),
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
    if (spec.backups?.fromStandby && !spec.nodes.some((n) => n.role === 'standby')) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['backups', 'fromStandby'], message: 'backups from a standby need at least one standby node' });
    }
  });

export type Spec = z.infer<typeof specSchema>;
export type SpecNode = Spec['nodes'][number];
export type SecretRef = z.infer<typeof secretRef>;
export type Control = Spec['postgres']['control'];
export type BackupType = 'full' | 'diff' | 'incr';
export const BACKUP_TYPES: readonly BackupType[] = ['full', 'diff', 'incr'];
