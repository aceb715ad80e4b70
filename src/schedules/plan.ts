import { ScheduleOverlapPolicy, type ScheduleDescription, type ScheduleOptions, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { TASK_QUEUE } from '../paths';
import { durationMs } from '../spec/duration';
import { OFFSITE_REPO, SCHEDULE_KINDS, type BackupType, type ScheduleKind, type Spec } from '../spec/schema';
import { scheduleId, type AppliedKind } from '../workflow-ids';
import type { BackupRequest } from '../workflows/backup';

/**
 * Without `catchupWindow` in the spec: a nightly backup that starts up to an hour late (the server
 * was down or restarting at its time) still lands in the night; a later one would run into the
 * working day, and the next occurrence is the better answer. Always sent explicitly: the server's
 * own default is not ours to depend on.
 */
export const DEFAULT_CATCHUP_WINDOW = '1h';

/** Temporal refuses (or raises) shorter catchup windows: say so instead of drifting on every apply. */
const MIN_CATCHUP_WINDOW_MS = 10_000;

export const BACKUP_WORKFLOW = 'backupStanza';
export const STATUS_WORKFLOW = 'stanzaStatus';
export const DRILL_WORKFLOW = 'restoreDrill';

/** The workflow a kind's schedule starts. */
export function workflowTypeOf(kind: AppliedKind): string {
  return kind === 'drill' ? DRILL_WORKFLOW : kind === 'status' ? STATUS_WORKFLOW : BACKUP_WORKFLOW;
}

export type StanzaScheduleOptions = ScheduleOptions<ScheduleOptionsStartWorkflowAction<Workflow>>;

/**
 * The parts of a schedule stanzactl owns, in the shape both the spec and `describe()` reduce to.
 * The server compiles a cron string into calendars and keeps only the calendar's comment as text,
 * so the cron travels in that comment.
 */
export interface OwnedParts {
  readonly cron: readonly string[];
  readonly timezone: string;
  readonly overlap: string;
  readonly catchupWindowMs: number;
  readonly pauseOnFailure: boolean;
  readonly workflowType: string;
  readonly workflowId: string;
  readonly taskQueue: string;
  readonly summary: string;
  /** The workflow's arguments as canonical JSON: the spec in them changes with any edit outside the timing. */
  readonly args: string;
}

export interface TypePlan {
  /** Kinds with a cron in the spec: created or updated. */
  readonly keep: readonly ScheduleKind[];
  /** Kinds without one: their schedule, if any, is deleted. */
  readonly remove: readonly ScheduleKind[];
}

/** The backup a kind's schedule takes: its type, and repo2 for an offsite kind. */
export function backupOfKind(kind: Exclude<ScheduleKind, 'drill'>): BackupRequest {
  const offsite = /^offsite-(full|diff|incr)$/.exec(kind);
  // A repo1 request carries no repo, as it did before offsite repositories: applied schedules keep their arguments.
  return offsite ? { type: offsite[1] as BackupType, repo: OFFSITE_REPO } : { type: kind as BackupType };
}

/** Where the spec keeps a kind's cron, for messages. */
export function cronField(kind: ScheduleKind): string {
  if (kind === 'drill') return 'drills.schedule';
  const b = backupOfKind(kind);
  return b.repo ? `offsite.schedule.${b.type}` : `backups.schedule.${b.type}`;
}

/** The cron and time zone the spec gives a kind; no cron when it schedules none. */
export function timingOf(spec: Spec, kind: ScheduleKind): { cron?: string; timezone?: string } {
  if (kind === 'drill') return { cron: spec.drills?.schedule?.trim(), timezone: spec.drills?.timezone };
  const b = backupOfKind(kind);
  const crons = b.repo ? spec.offsite?.schedule : spec.backups?.schedule;
  return { cron: crons?.[b.type]?.trim(), timezone: crons?.timezone };
}

export function planTypes(spec: Spec): TypePlan {
  return {
    keep: SCHEDULE_KINDS.filter((k) => timingOf(spec, k).cron),
    remove: SCHEDULE_KINDS.filter((k) => !timingOf(spec, k).cron),
  };
}

function cronComment(cron: string): string {
  return `cron ${cron}`;
}

export function catchupWindowMs(spec: Spec): number {
  const text = spec.backups?.schedule?.catchupWindow ?? DEFAULT_CATCHUP_WINDOW;
  const ms = durationMs(text);
  if (ms < MIN_CATCHUP_WINDOW_MS) throw new Error(`backups.schedule.catchupWindow: ${text} is shorter than Temporal's minimum of 10s`);
  return ms;
}

/**
 * The spec as a scheduled run receives it: without the timing of any schedule (`backups.schedule`,
 * `offsite.schedule`, `drills.schedule` and `drills.timezone`, `status.every`), which is the schedules' business, not the run's. So
 * editing one cron rewrites only that schedule.
 */
export function scheduledArgsSpec(spec: Spec): Spec {
  const { status: _every, ...rest } = spec;
  let out: Spec = rest;
  if (out.backups?.schedule) {
    const { schedule: _timing, ...backups } = out.backups;
    out = { ...out, backups };
  }
  if (out.offsite?.schedule) {
    const { schedule: _timing, ...offsite } = out.offsite;
    out = { ...out, offsite };
  }
  if (out.drills && (out.drills.schedule !== undefined || out.drills.timezone !== undefined)) {
    const { schedule: _cron, timezone: _tz, ...drills } = out.drills;
    out = { ...out, drills };
  }
  return out;
}

/** The workflow a kind's schedule starts, with its arguments. */
function actionOf(spec: Spec, kind: ScheduleKind): { workflowType: string; args: unknown[]; what: string } {
  const workflowType = workflowTypeOf(kind);
  if (kind === 'drill') return { workflowType, args: [scheduledArgsSpec(spec)], what: `restore drill on ${spec.drills?.host}` };
  const request = backupOfKind(kind);
  return { workflowType, args: [scheduledArgsSpec(spec), request], what: `${request.type} backup${request.repo ? ` to repo${request.repo} (offsite)` : ''}` };
}

/** The schedule of `kind` (`backup-<cluster>-<type>`, `drill-<cluster>`) as the spec asks for it; the spec must have its cron. */
export function desiredSchedule(spec: Spec, kind: ScheduleKind, taskQueue = TASK_QUEUE): StanzaScheduleOptions {
  const { cron, timezone } = timingOf(spec, kind);
  if (!cron) throw new Error(`${cronField(kind)} is not set`);
  const id = scheduleId(spec, kind);
  const action = actionOf(spec, kind);
  return {
    scheduleId: id,
    spec: {
      cronExpressions: [`${cron} # ${cronComment(cron)}`],
      ...(timezone ? { timezone } : {}),
    },
    action: {
      type: 'startWorkflow',
      workflowType: action.workflowType,
      taskQueue,
      // The server appends the scheduled time to this id for each run.
      workflowId: id,
      args: action.args,
      staticSummary: `scheduled ${action.what} of stanza ${spec.stanza} (${cron}${timezone ? ` ${timezone}` : ''})`,
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: catchupWindowMs(spec),
      pauseOnFailure: false,
    },
  };
}

/**
 * The schedule `status-<cluster>`: stanzaStatus every `status.every`, so the workers' gauges are
 * never older than that. A missed read is worth nothing later: no catch-up beyond Temporal's
 * minimum, and a run that finds no worker ends after 2 minutes, as `stanzactl status` does.
 */
export function desiredStatusSchedule(spec: Spec, taskQueue = TASK_QUEUE): StanzaScheduleOptions {
  const every = spec.status?.every;
  if (!every) throw new Error('status.every is not set');
  const id = scheduleId(spec, 'status');
  return {
    scheduleId: id,
    spec: { intervals: [{ every: durationMs(every) }] },
    action: {
      type: 'startWorkflow',
      workflowType: workflowTypeOf('status'),
      taskQueue,
      workflowId: id,
      args: [scheduledArgsSpec(spec)],
      workflowExecutionTimeout: '2 minutes',
      staticSummary: `status of stanza ${spec.stanza} every ${every} (feeds the workers' metrics)`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: MIN_CATCHUP_WINDOW_MS, pauseOnFailure: false },
  };
}

/** JSON with sorted keys, so key order and `undefined` members never count as a change. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export function desiredParts(o: StanzaScheduleOptions): OwnedParts {
  const cronText = o.spec.cronExpressions ?? [];
  return {
    // As describedParts renders what the server holds: cron comments, then intervals in ms.
    cron: [...cronText.map((c) => c.slice(c.indexOf('#') + 1).trim()), ...(o.spec.intervals ?? []).map((i) => `every ${Number(i.every)} ms`)],
    timezone: o.spec.timezone ?? '',
    overlap: o.policies?.overlap ?? '',
    catchupWindowMs: Number(o.policies?.catchupWindow),
    pauseOnFailure: o.policies?.pauseOnFailure ?? false,
    workflowType: typeof o.action.workflowType === 'string' ? o.action.workflowType : o.action.workflowType.name,
    workflowId: o.action.workflowId ?? '',
    taskQueue: o.action.taskQueue,
    summary: o.action.staticSummary ?? '',
    args: canonicalJson(o.action.args ?? []),
  };
}

export type DescribedSchedule = Pick<ScheduleDescription, 'spec' | 'action' | 'policies'>;

export function describedParts(d: DescribedSchedule): OwnedParts {
  // A schedule edited elsewhere may hold intervals or uncommented calendars: they count as a cron that differs.
  const cron = [...(d.spec.calendars ?? []).map((c) => c.comment ?? ''), ...(d.spec.intervals ?? []).map((i) => `every ${i.every} ms`)];
  return {
    cron,
    timezone: d.spec.timezone ?? '',
    overlap: d.policies.overlap ?? '',
    catchupWindowMs: d.policies.catchupWindow,
    pauseOnFailure: d.policies.pauseOnFailure,
    workflowType: d.action.workflowType,
    workflowId: d.action.workflowId ?? '',
    taskQueue: d.action.taskQueue,
    summary: d.action.staticSummary ?? '',
    args: canonicalJson(d.action.args ?? []),
  };
}

/** The names of the owned parts that differ; empty when the schedule is what the spec asks for. */
export function differences(want: OwnedParts, have: OwnedParts): string[] {
  return (Object.keys(want) as (keyof OwnedParts)[]).filter((k) => canonicalJson(want[k]) !== canonicalJson(have[k]));
}
