import { z } from 'zod';
import { formatZodError, SpecError, type SpecIssue } from './errors';
import { recoveryTargetSchema } from './recovery-target';
import { backupLabelSchema, copyPlaceProblems, copyPlaceSchema, drillsPlace } from './restore-copy';
import { BACKUP_TYPES, nodeName, OFFSITE_REPO, specSchema, type BackupType, type Spec } from './schema';

// Pure (zod only): the workflow bundle imports this, so the worker judges every spec it is handed
// with the same rules as `stanzactl validate`, whoever started the workflow.

// pgBackRest's repository index: 1 on the repository host, 2 the offsite: one.
const repo = z.union([z.literal(1), z.literal(2)]).optional();
const backupRequest = z.object({ type: z.enum(BACKUP_TYPES as [BackupType, ...BackupType[]]), repo }).strict();
const drillRequest = z.object({ repo }).strict().optional();
// The id of the plan a DBA confirmed (spec/confirmation.ts), as the CLI passes it.
const confirm = z.string().regex(/^plan-[0-9a-f]{20}$/, 'a plan id as stanzactl makes it: plan- and 20 hex digits').optional();
const rebuildOptions = z.object({ deltaBy: z.enum(['checksum', 'timestamp']).optional(), method: z.enum(['auto', 'rewind', 'restore']).optional(), confirm }).strict();
const restoreRequest = z.object({ place: copyPlaceSchema, target: recoveryTargetSchema, set: backupLabelSchema.optional(), reuse: z.boolean(), repo, confirm }).strict();
// In place, the end of the archive undoes nothing: recover takes a target.
const recoverRequest = z.object({
  target: recoveryTargetSchema.refine((t) => t.type !== 'default', 'recover needs a target: time, lsn, xid, name or immediate'),
  backup: backupLabelSchema.optional(),
  confirm,
  // Restore to the target on drills.host first; the cluster is touched only if that copy reaches it.
  rehearse: z.boolean().optional(),
  // The repository the backup is chosen from and restored from (1 when not named).
  repo,
}).strict();

// A planned switchover: the node to hand the primary role to.
const switchoverRequest = z.object({ to: nodeName, confirm }).strict();
// A failover: the standby to promote (the most advanced when absent), and whether to stop an old primary that still runs.
const failoverRequest = z.object({ to: nodeName.optional(), fence: z.literal('stop').optional(), confirm }).strict();

function issuesOf(schema: z.ZodTypeAny, value: unknown): SpecIssue[] {
  const r = schema.safeParse(value);
  return r.success ? [] : formatZodError(r.error).issues;
}

/**
 * The spec's problems, each with its field path; none for a valid spec. A drill's copy is judged
 * by the rules of every copy of the cluster (spec/restore-copy.ts): never on a node or the repository host.
 */
export function specIssues(raw: unknown): SpecIssue[] {
  const issues = issuesOf(specSchema, raw);
  const drills = issues.length === 0 ? (raw as Spec).drills : undefined;
  if (drills) issues.push(...copyPlaceProblems(raw as Spec, drillsPlace(drills)).map((message) => ({ path: 'drills', message })));
  return issues;
}

/** A workflow's other arguments, named as the workflow names them (`node`, `request.type`, ...). */
export interface WorkflowArguments {
  readonly node?: unknown;
  readonly request?: unknown;
  readonly options?: unknown;
  /** restoreToHost's request: where the copy goes, its target, the backup, whether to reuse files. */
  readonly restore?: unknown;
  readonly recovery?: unknown;
  readonly switchover?: unknown;
  readonly failover?: unknown;
  /** restoreDrill's request: the repository to restore from. */
  readonly drill?: unknown;
}

/**
 * Every problem with a workflow's input: the spec's fields by their path in the spec, the other
 * arguments by their name. A node must be one of the (valid) spec's nodes.
 */
export function inputIssues(spec: unknown, args: WorkflowArguments = {}): SpecIssue[] {
  const issues = specIssues(spec);
  // Each argument the workflow was given, checked by its own schema (a workflow started without
  // rebuild options gets their default: undefined is fine there).
  const schemas: Record<keyof WorkflowArguments, z.ZodTypeAny> = {
    node: nodeName, request: backupRequest, options: rebuildOptions.optional(), restore: restoreRequest, recovery: recoverRequest, switchover: switchoverRequest, failover: failoverRequest,
    drill: drillRequest,
  };
  const given = (Object.keys(schemas) as (keyof WorkflowArguments)[]).filter((k) => k in args);
  const shape = Object.fromEntries(given.map((k) => [k, schemas[k]]));
  const values = Object.fromEntries(given.map((k) => [k, args[k]]));
  issues.push(...issuesOf(z.object(shape), values));
  if (issues.length === 0 && 'restore' in args) {
    const { place } = args.restore as z.infer<typeof restoreRequest>;
    issues.push(...copyPlaceProblems(spec as Spec, place).map((message) => ({ path: 'restore.place', message })));
  }
  for (const key of ['request', 'restore', 'drill'] as const) {
    const asked = (args[key] as { repo?: number } | undefined)?.repo;
    if (issues.length === 0 && asked === OFFSITE_REPO && !(spec as Spec).offsite) issues.push({ path: `${key}.repo`, message: `repo${asked} is the offsite: repository, and stanza ${(spec as Spec).stanza} has none` });
  }
  if (issues.length === 0 && 'recovery' in args && (args.recovery as z.infer<typeof recoverRequest>).rehearse && !(spec as Spec).drills) {
    issues.push({ path: 'recovery.rehearse', message: `a rehearsal restores to drills.host first: stanza ${(spec as Spec).stanza} has no drills: section (host, dataDir, port)` });
  }
  const named: [string, unknown][] = [['node', args.node], ['switchover.to', (args.switchover as { to?: unknown } | undefined)?.to],
    ['failover.to', (args.failover as { to?: unknown } | undefined)?.to]];
  for (const [path, name] of named) {
    if (issues.length > 0 || name === undefined) continue;
    const names = (spec as Spec).nodes.map((n) => n.name);
    if (!names.includes(name as string)) issues.push({ path, message: `"${String(name)}" is not a node of the spec (${names.join(', ')})` });
  }
  return issues;
}

/** Throws a SpecError naming every bad field; returns the spec, typed, when there is none. */
export function checkSpec(raw: unknown, heading = 'invalid spec'): Spec {
  const issues = specIssues(raw);
  if (issues.length > 0) throw new SpecError(issues, heading);
  return raw as Spec;
}
