import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import { SCHEDULE_KINDS, type ScheduleKind, type Spec } from '../spec/schema';
import { scheduleId, type ClusterRef } from '../workflow-ids';
import { cronField, timingOf } from './plan';

export interface FoundSchedule {
  readonly id: string;
  readonly type: ScheduleKind;
  readonly description: ScheduleDescription;
}

/** The schedule by id, or undefined: describe is consistent at once, unlike list (a visibility query). */
export async function describeSchedule(client: Client, id: string): Promise<ScheduleDescription | undefined> {
  try {
    return await client.schedule.getHandle(id).describe();
  } catch (e) {
    if (e instanceof ScheduleNotFoundError) return undefined;
    throw e;
  }
}

/** Those of `wanted` that exist on the server, in their order, with their descriptions. */
export async function describeEach<K extends string>(client: Client, wanted: readonly { id: string; type: K }[]): Promise<{ id: string; type: K; description: ScheduleDescription }[]> {
  const found = await Promise.all(wanted.map(async ({ id, type }) => {
    const description = await describeSchedule(client, id);
    return description && { id, type, description };
  }));
  return found.filter((f) => f !== undefined);
}

/** The cluster's schedules that exist on the server, one per kind at most; `only` narrows to one kind. */
export function findSchedules(client: Client, cluster: ClusterRef, only?: ScheduleKind): Promise<FoundSchedule[]> {
  return describeEach(client, (only ? [only] : SCHEDULE_KINDS).map((type) => ({ id: scheduleId(cluster, type), type })));
}

/** For an explicit `--type`: the schedule must exist, and the message says how to make it. */
export async function requireSchedule(client: Client, spec: Spec, type: ScheduleKind): Promise<FoundSchedule> {
  const [found] = await findSchedules(client, spec, type);
  if (!found) {
    const inSpec = timingOf(spec, type).cron !== undefined;
    throw new Error(`no schedule ${scheduleId(spec, type)} on the server: ${inSpec ? 'run "stanzactl schedule apply" first' : `the spec has no ${cronField(type)}`}`);
  }
  return found;
}
