import { ScheduleOverlapPolicy, type ScheduleDescription, type ScheduleOptions, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { TASK_QUEUE } from '../paths';
import { durationMs } from '../spec/duration';
import { BACKUP_TYPES, type BackupType, type Spec } from '../spec/schema';
import { scheduleId, statusScheduleId } from '../workflow-ids';
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
  /** Types with a cron in the spec: created or updated. */
  readonly keep: readonly BackupType[];
  /** Types without one: their schedule, if any, is deleted. */
  readonly remove: readonly BackupType[];
}

export function planTypes(spec: Spec): TypePlan {
  const schedule = spec.backups?.schedule;
  return {
    keep: BACKUP_TYPES.filter((t) => schedule?.[t] !== undefined),
    remove: BACKUP_TYPES.filter((t) => schedule?.[t] === undefined),
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
 * The spec as a scheduled run receives it: without `backups.schedule` and `status`, which are the
 * schedules' business, not the run's. So editing one schedule's timing rewrites only that schedule.
 */
export function runArgsSpec(spec: Spec): Spec {
  const { status: _every, ...rest } = spec;
  if (!rest.backups?.schedule) return rest;
  const { schedule: _timing, ...backups } = rest.backups;
  return { ...rest, backups };
}

/** The schedule `backup-<stanza>-<type>` as the spec asks for it; the spec must have a cron for `type`. */
export function desiredSchedule(spec: Spec, type: BackupType, taskQueue = TASK_QUEUE): StanzaScheduleOptions {
  const schedule = spec.backups?.schedule;
  const cron = schedule?.[type]?.trim();
  if (!cron) throw new Error(`backups.schedule.${type} is not set`);
  const id = scheduleId(spec.stanza, type);
  const request: BackupRequest = { type };
  return {
    scheduleId: id,
    spec: {
      cronExpressions: [`${cron} # ${cronComment(cron)}`],
      ...(schedule?.timezone ? { timezone: schedule.timezone } : {}),
    },
    action: {
      type: 'startWorkflow',
      workflowType: BACKUP_WORKFLOW,
      taskQueue,
      // The server appends the scheduled time to this id for each run.
      workflowId: id,
      args: [runArgsSpec(spec), request],
      staticSummary: `scheduled ${type} backup of stanza ${spec.stanza} (${cron}${schedule?.timezone ? ` ${schedule.timezone}` : ''})`,
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: catchupWindowMs(spec),
      pauseOnFailure: false,
    },
  };
}

/**
 * The schedule `status-<stanza>`: stanzaStatus every `status.every`, so the workers' gauges are
 * never older than that. A missed read is worth nothing later: no catch-up beyond Temporal's
 * minimum, and a run that finds no worker ends after 2 minutes, as `stanzactl status` does.
 */
export function desiredStatusSchedule(spec: Spec, taskQueue = TASK_QUEUE): StanzaScheduleOptions {
  const every = spec.status?.every;
  if (!every) throw new Error('status.every is not set');
  const id = statusScheduleId(spec.stanza);
  return {
    scheduleId: id,
    spec: { intervals: [{ every: durationMs(every) }] },
    action: {
      type: 'startWorkflow',
      workflowType: STATUS_WORKFLOW,
      taskQueue,
      workflowId: id,
      args: [runArgsSpec(spec)],
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
