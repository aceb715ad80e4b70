import { z } from 'zod';

/**
 * Where a restore stops replaying WAL, in `pgbackrest restore --type/--target` terms (a DBA's habit).
 * `default` replays to the end of the archive; `immediate` stops as soon as the backup is consistent.
 * Targets are checked here because they end up on a command line and in PostgreSQL's recovery settings.
 */
export const RECOVERY_TYPES = ['default', 'immediate', 'time', 'lsn', 'xid', 'name'] as const;
export type RecoveryType = (typeof RECOVERY_TYPES)[number];

// What PostgreSQL's recovery_target_time accepts that a DBA types: a date, a time, optional fraction and zone.
const TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?( ?([+-]\d{2}(:?\d{2})?|Z|UTC|[A-Za-z][A-Za-z0-9_+\-\/]{0,63}))?$/;

export const recoveryTargetSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('default') }).strict(),
  z.object({ type: z.literal('immediate') }).strict(),
  z.object({ type: z.literal('time'), target: z.string().regex(TIME, 'a time such as "2026-11-26 03:15:00+00"') }).strict(),
  z.object({ type: z.literal('lsn'), target: z.string().regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, 'an LSN such as 0/3000060') }).strict(),
  z.object({ type: z.literal('xid'), target: z.string().regex(/^[1-9]\d{0,19}$/, 'a transaction id (a positive integer)') }).strict(),
  z.object({ type: z.literal('name'), target: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,62}$/, 'a restore point name from pg_create_restore_point: letters, digits, "_", ".", ":" and "-"') }).strict(),
]);
export type RecoveryTarget = z.infer<typeof recoveryTargetSchema>;

/** From the CLI's `--type`/`--target` flags; the caller reports `error` with the flag names. */
export function parseRecoveryTarget(type: string | undefined, target: string | undefined): { target: RecoveryTarget } | { error: string } {
  const wanted = type ?? (target === undefined ? 'default' : undefined);
  if (wanted === undefined) return { error: '--target needs --type (time, lsn, xid or name)' };
  const r = recoveryTargetSchema.safeParse(target === undefined ? { type: wanted } : { type: wanted, target });
  if (r.success) return { target: r.data };
  const issue = r.error.issues[0];
  if (issue.path[0] === 'type') return { error: `--type must be one of ${RECOVERY_TYPES.join(', ')} (not ${JSON.stringify(wanted)})` };
  if (issue.code === 'unrecognized_keys') return { error: `--type ${wanted} takes no --target` };
  return { error: `--target for --type ${wanted}: ${issue.message}` };
}
