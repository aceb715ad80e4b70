import { ScheduleAlreadyRunning, type Client } from '@temporalio/client';
import { TASK_QUEUE } from '../paths';
import { BACKUP_TYPES, type BackupType, type Spec } from '../spec/schema';
import { scheduleId, statusScheduleId } from '../workflow-ids';
import { describeSchedule } from './lookup';
import { describedParts, desiredParts, desiredSchedule, desiredStatusSchedule, differences, planTypes, type StanzaScheduleOptions } from './plan';

/** `status`: the schedule `status-<stanza>` of stanzaStatus runs (spec `status.every`). */
export type ScheduleKind = BackupType | 'status';
const KIND_ORDER: readonly ScheduleKind[] = [...BACKUP_TYPES, 'status'];

export interface AppliedSchedule {
  readonly id: string;
  readonly type: ScheduleKind;
  readonly action: 'created' | 'updated' | 'unchanged' | 'deleted';
  /** For `updated`: the owned parts that differed (cron, timezone, args, ...). */
  readonly changes?: string[];
}

async function ensureSchedule(client: Client, want: StanzaScheduleOptions, type: ScheduleKind): Promise<AppliedSchedule> {
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

async function deleteSchedule(client: Client, id: string, type: ScheduleKind): Promise<AppliedSchedule[]> {
  if (!(await describeSchedule(client, id))) return [];
  await client.schedule.getHandle(id).delete();
  return [{ id, type, action: 'deleted' }];
}

/**
 * Makes the stanza's Temporal Schedules what the spec says: `backups.schedule` (one per backup
 * type) and `status.every` (status-<stanza>). Creates missing ones, updates only those whose owned
 * parts differ (so a second apply writes nothing), deletes those the spec no longer names. Paused
 * stays paused. Rows come in full/diff/incr/status order.
 */
export async function applySchedules(client: Client, spec: Spec, taskQueue = TASK_QUEUE): Promise<AppliedSchedule[]> {
  const plan = planTypes(spec);
  const rows: AppliedSchedule[] = [];
  for (const type of plan.keep) rows.push(await ensureSchedule(client, desiredSchedule(spec, type, taskQueue), type));
  for (const type of plan.remove) rows.push(...(await deleteSchedule(client, scheduleId(spec.stanza, type), type)));
  if (spec.status) rows.push(await ensureSchedule(client, desiredStatusSchedule(spec, taskQueue), 'status'));
  else rows.push(...(await deleteSchedule(client, statusScheduleId(spec.stanza), 'status')));
  return rows.sort((a, b) => KIND_ORDER.indexOf(a.type) - KIND_ORDER.indexOf(b.type));
}
