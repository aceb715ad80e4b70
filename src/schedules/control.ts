import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { ScheduleKind, Spec } from '../spec/schema';
import { findSchedules, requireSchedule, type FoundSchedule } from './lookup';

export interface PauseOptions {
  /** One type; absent: every schedule of the stanza. */
  readonly type?: ScheduleKind;
  readonly note?: string;
}

export interface PausedSchedule {
  readonly id: string;
  readonly type: ScheduleKind;
  readonly action: 'paused' | 'unpaused' | 'already paused' | 'already unpaused';
}

async function targets(client: Client, spec: Spec, type?: ScheduleKind): Promise<FoundSchedule[]> {
  if (type) return [await requireSchedule(client, spec, type)];
  const found = await findSchedules(client, spec);
  if (found.length === 0) throw new Error(`stanza ${spec.stanza} has no schedules on the server: run "stanzactl schedule apply" first`);
  return found;
}

async function setPaused(client: Client, spec: Spec, paused: boolean, o: PauseOptions): Promise<PausedSchedule[]> {
  const rows: PausedSchedule[] = [];
  for (const s of await targets(client, spec, o.type)) {
    if (s.description.state.paused === paused) {
      rows.push({ id: s.id, type: s.type, action: paused ? 'already paused' : 'already unpaused' });
      continue;
    }
    const handle = client.schedule.getHandle(s.id);
    if (paused) await handle.pause(o.note ?? 'paused with stanzactl');
    else await handle.unpause(o.note ?? 'unpaused with stanzactl');
    rows.push({ id: s.id, type: s.type, action: paused ? 'paused' : 'unpaused' });
  }
  return rows;
}

export function pauseSchedules(client: Client, spec: Spec, o: PauseOptions = {}): Promise<PausedSchedule[]> {
  return setPaused(client, spec, true, o);
}

export function unpauseSchedules(client: Client, spec: Spec, o: PauseOptions = {}): Promise<PausedSchedule[]> {
  return setPaused(client, spec, false, o);
}

export type TriggerResult =
  | { readonly id: string; readonly outcome: 'started'; readonly workflowId: string; readonly runId: string }
  /** The schedule's previous action still runs: the server took no action. */
  | { readonly id: string; readonly outcome: 'skipped'; readonly running: string[] }
  /** The server did not act within the wait: it will, by the schedule's SKIP policy. */
  | { readonly id: string; readonly outcome: 'requested' };

/**
 * Runs the schedule's action now, with overlap SKIP: no second backup beside one the schedule
 * started and that still runs (the backup workflow itself skips when any other backup of the
 * stanza runs). Waits up to `waitMs` for the server's scheduler to act, to say which it did.
 */
export async function triggerSchedule(client: Client, spec: Spec, type: ScheduleKind, waitMs = 10_000): Promise<TriggerResult> {
  const { id, description: before } = await requireSchedule(client, spec, type);
  const handle = client.schedule.getHandle(id);
  await handle.trigger(ScheduleOverlapPolicy.SKIP);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = await handle.describe();
    if (now.info.numActionsTaken > before.info.numActionsTaken) {
      const last = now.info.recentActions[now.info.recentActions.length - 1];
      return { id, outcome: 'started', workflowId: last.action.workflow.workflowId, runId: last.action.workflow.firstExecutionRunId };
    }
    if (now.info.numActionsSkippedOverlap > before.info.numActionsSkippedOverlap) {
      return { id, outcome: 'skipped', running: now.info.runningActions.map((a) => a.workflow.workflowId) };
    }
    if (Date.now() > deadline) return { id, outcome: 'requested' };
    await new Promise((r) => setTimeout(r, 250));
  }
}
