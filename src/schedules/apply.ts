import { ScheduleAlreadyRunning, type Client } from '@temporalio/client';
import { TASK_QUEUE } from '../paths';
import { SCHEDULE_KINDS, type ScheduleKind, type Spec } from '../spec/schema';
import { scheduleId } from '../workflow-ids';
import { describeSchedule } from './lookup';
import { describedParts, desiredParts, desiredSchedule, differences, planTypes } from './plan';

export interface AppliedSchedule {
  readonly id: string;
  readonly type: ScheduleKind;
  readonly action: 'created' | 'updated' | 'unchanged' | 'deleted';
  /** For `updated`: the owned parts that differed (cron, timezone, args, ...). */
  readonly changes?: string[];
}

async function ensureSchedule(client: Client, spec: Spec, type: ScheduleKind, taskQueue: string): Promise<AppliedSchedule> {
  const want = desiredSchedule(spec, type, taskQueue);
  const id = want.scheduleId;
  let have = await describeSchedule(client, id);
  if (!have) {
    try {
      await client.schedule.create(want);
      return { id, type, action: 'created' };
    } catch (e) {
      // Another apply created it in between: compare with that one instead.
      if (!(e instanceof ScheduleAlreadyRunning)) throw e;
      have = await describeSchedule(client, id);
      if (!have) throw e;
    }
  }
  const changes = differences(desiredParts(want), describedParts(have));
  if (changes.length === 0) return { id, type, action: 'unchanged' };
  const { scheduleId: _id, ...options } = want;
  // An update replaces the whole schedule, state included: carry the user's pause and note over.
  await client.schedule.getHandle(id).update((previous) => ({
    ...options,
    state: { paused: previous.state.paused, note: previous.state.note, remainingActions: previous.state.remainingActions },
  }));
  return { id, type, action: 'updated', changes };
}

/**
 * Makes the stanza's Temporal Schedules what the spec's `backups.schedule` and `drills.schedule` say: creates missing
 * ones, updates only those whose owned parts differ (so a second apply writes nothing), deletes
 * those of kinds the spec no longer names. Paused stays paused. Rows come in full/diff/incr/drill order.
 */
export async function applySchedules(client: Client, spec: Spec, taskQueue = TASK_QUEUE): Promise<AppliedSchedule[]> {
  const plan = planTypes(spec);
  const rows: AppliedSchedule[] = [];
  for (const type of plan.keep) rows.push(await ensureSchedule(client, spec, type, taskQueue));
  for (const type of plan.remove) {
    const id = scheduleId(spec.stanza, type);
    if (!(await describeSchedule(client, id))) continue;
    await client.schedule.getHandle(id).delete();
    rows.push({ id, type, action: 'deleted' });
  }
  return rows.sort((a, b) => SCHEDULE_KINDS.indexOf(a.type) - SCHEDULE_KINDS.indexOf(b.type));
}
