import { WorkflowNotFoundError, type Client, type ScheduleDescription, type ScheduleExecutionResult } from '@temporalio/client';
import { failureMessage } from '../client';
import { TASK_QUEUE } from '../paths';
import type { ScheduleKind, Spec } from '../spec/schema';
import { findSchedules } from './lookup';
import { describedParts, desiredParts, desiredSchedule, differences, timingOf } from './plan';

/** `done`/`skipped` are the backup (or drill) workflow's own outcome; the rest are Temporal's execution states. */
export type RunStatus = 'running' | 'done' | 'skipped' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed out' | 'continued as new' | 'unknown';

export interface RecentRun {
  readonly scheduledAt: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly status: RunStatus;
  /** The backup label, the reason it was skipped, or the failure's message. */
  readonly detail?: string;
}

export interface ScheduleView {
  readonly id: string;
  readonly type: ScheduleKind;
  readonly cron: string;
  /** Empty: UTC. */
  readonly timezone: string;
  readonly paused: boolean;
  readonly note: string;
  /** The next three action times (ISO, UTC). */
  readonly nextRuns: string[];
  /** Newest first, as many as the server keeps (up to 10). */
  readonly recent: RecentRun[];
  /** False for a schedule of a type the spec no longer names: the next apply deletes it. */
  readonly inSpec: boolean;
  /** Owned parts that differ from the spec (e.g. `cron`, `args`): the next apply updates them. */
  readonly outOfDate: string[];
}

const CLOSED: Record<string, RunStatus> = {
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed out',
  CONTINUED_AS_NEW: 'continued as new',
};

/** A completed run's status from its result: the backup's (or drill's) own `done`/`skipped` when it says so. */
export function outcomeOf(result: unknown): { status: RunStatus; detail?: string } {
  const r = result as { status?: unknown; reason?: unknown; backup?: { label?: unknown }; summary?: unknown } | null;
  if (r?.status === 'done' && typeof r.summary === 'string') return { status: 'done', detail: r.summary };
  if (r?.status === 'done') return { status: 'done', detail: typeof r.backup?.label === 'string' ? r.backup.label : undefined };
  if (r?.status === 'skipped') return { status: 'skipped', detail: typeof r.reason === 'string' ? r.reason : undefined };
  return { status: 'completed' };
}

async function recentRun(client: Client, a: ScheduleExecutionResult): Promise<RecentRun> {
  const { workflowId, firstExecutionRunId: runId } = a.action.workflow;
  const base = { scheduledAt: a.scheduledAt.toISOString(), workflowId, runId };
  const handle = client.workflow.getHandle(workflowId, runId, { followRuns: false });
  try {
    const status = (await handle.describe()).status.name;
    if (status === 'RUNNING') return { ...base, status: 'running' };
    if (status === 'COMPLETED') return { ...base, ...outcomeOf(await handle.result()) };
    if (status === 'FAILED' || status === 'TIMED_OUT') {
      // Only the close event is fetched: cheap, and it carries the message a DBA acts on.
      const detail = await handle.result().then(() => undefined, (e: unknown) => failureMessage(e));
      return { ...base, status: CLOSED[status], detail };
    }
    return { ...base, status: CLOSED[status] ?? 'unknown' };
  } catch (e) {
    // Past the namespace's retention the run is gone; its schedule still remembers it.
    if (e instanceof WorkflowNotFoundError) return { ...base, status: 'unknown', detail: 'no longer on the server (retention)' };
    throw e;
  }
}

function cronOf(d: ScheduleDescription): string {
  return describedParts(d).cron.map((c) => c.replace(/^cron /, '')).join(', ') || '(no cron: edited outside stanzactl)';
}

async function view(client: Client, spec: Spec, id: string, type: ScheduleKind, d: ScheduleDescription, taskQueue: string): Promise<ScheduleView> {
  const inSpec = timingOf(spec, type).cron !== undefined;
  const recent = await Promise.all([...d.info.recentActions].reverse().map((a) => recentRun(client, a)));
  return {
    id,
    type,
    cron: cronOf(d),
    timezone: d.spec.timezone ?? '',
    paused: d.state.paused,
    note: d.state.note ?? '',
    nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    recent,
    inSpec,
    outOfDate: inSpec ? differences(desiredParts(desiredSchedule(spec, type, taskQueue)), describedParts(d)) : [],
  };
}

/** The stanza's schedules on the server (full, diff, incr order), with next runs and recent results. */
export async function listSchedules(client: Client, spec: Spec, taskQueue = TASK_QUEUE): Promise<ScheduleView[]> {
  const found = await findSchedules(client, spec);
  return Promise.all(found.map((f) => view(client, spec, f.id, f.type, f.description, taskQueue)));
}
