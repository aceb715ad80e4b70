import { ScheduleAlreadyRunning, type Client, type ScheduleDescription } from '@temporalio/client';
import { TASK_QUEUE } from '../paths';
import { SCHEDULE_KINDS, type Spec } from '../spec/schema';
import { scheduleId, type AppliedKind } from '../workflow-ids';
import { describeSchedule } from './lookup';
import { findLegacy, legacyToReplace } from './migrate';
import { describedParts, desiredParts, desiredSchedule, desiredStatusSchedule, differences, planTypes, type StanzaScheduleOptions } from './plan';

/** The cron schedules, and `status`: the schedule `status-<cluster>` of stanzaStatus runs (spec `status.every`). */
const APPLIED_ORDER: readonly AppliedKind[] = [...SCHEDULE_KINDS, 'status'];

export interface AppliedSchedule {
  readonly id: string;
  readonly type: AppliedKind;
  readonly action: 'created' | 'updated' | 'unchanged' | 'deleted';
  /** For `updated`: the owned parts that differed (cron, timezone, args, ...). */
  readonly changes?: string[];
  /** For a schedule deleted under the id an older stanzactl gave it: the id that replaces it. */
  readonly replacedBy?: string;
}

/** A schedule's pause and note, carried over to the one that replaces it. */
type ScheduleState = Pick<ScheduleDescription['state'], 'paused' | 'note'>;

async function ensureSchedule(client: Client, want: StanzaScheduleOptions, type: AppliedKind, state?: ScheduleState): Promise<AppliedSchedule> {
  const id = want.scheduleId;
  let have = await describeSchedule(client, id);
  if (!have) {
    try {
      await client.schedule.create(state ? { ...want, state } : want);
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

async function deleteSchedule(client: Client, id: string, type: AppliedKind): Promise<AppliedSchedule[]> {
  if (!(await describeSchedule(client, id))) return [];
  await client.schedule.getHandle(id).delete();
  return [{ id, type, action: 'deleted' }];
}

/**
 * Makes the cluster's Temporal Schedules what the spec says: `backups.schedule` (one per backup
 * type), `drills.schedule` (drill-<cluster>) and `status.every` (status-<cluster>). Creates missing
 * ones, updates only those whose owned parts differ (so a second apply writes nothing), deletes those
 * the spec no longer names. Paused stays paused. This cluster's schedules under the ids of an older
 * stanzactl (`backup-<stanza>-full`) are deleted once their replacement exists, which starts paused
 * when they were. Rows come in full/diff/incr/drill/status order.
 */
export async function applySchedules(client: Client, spec: Spec, taskQueue = TASK_QUEUE): Promise<AppliedSchedule[]> {
  const plan = planTypes(spec);
  const legacy = legacyToReplace(spec, await findLegacy(client, spec, APPLIED_ORDER));
  const stateOf = (type: AppliedKind): ScheduleState | undefined => {
    const old = legacy.find((l) => l.type === type)?.description.state;
    return old && { paused: old.paused, note: old.note };
  };
  const rows: AppliedSchedule[] = [];
  for (const type of plan.keep) rows.push(await ensureSchedule(client, desiredSchedule(spec, type, taskQueue), type, stateOf(type)));
  for (const type of plan.remove) rows.push(...(await deleteSchedule(client, scheduleId(spec, type), type)));
  if (spec.status) rows.push(await ensureSchedule(client, desiredStatusSchedule(spec, taskQueue), 'status', stateOf('status')));
  else rows.push(...(await deleteSchedule(client, scheduleId(spec, 'status'), 'status')));
  for (const l of legacy) {
    await client.schedule.getHandle(l.id).delete();
    const replaced = rows.some((r) => r.type === l.type && r.action !== 'deleted');
    rows.push({ id: l.id, type: l.type, action: 'deleted', ...(replaced && { replacedBy: scheduleId(spec, l.type) }) });
  }
  return rows.sort((a, b) => APPLIED_ORDER.indexOf(a.type) - APPLIED_ORDER.indexOf(b.type));
}
