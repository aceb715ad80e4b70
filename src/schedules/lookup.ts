import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import { BACKUP_TYPES, type BackupType, type Spec } from '../spec/schema';
import { scheduleId } from '../workflow-ids';

export interface FoundSchedule {
  readonly id: string;
  readonly type: BackupType;
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

/** The stanza's schedules that exist on the server, one per type at most; `only` narrows to one type. */
export async function findSchedules(client: Client, spec: Spec, only?: BackupType): Promise<FoundSchedule[]> {
  const types = only ? [only] : BACKUP_TYPES;
  const found = await Promise.all(
    types.map(async (type) => {
      const id = scheduleId(spec.stanza, type);
      const description = await describeSchedule(client, id);
      return description && { id, type, description };
    }),
  );
  return found.filter((f): f is FoundSchedule => f !== undefined);
}

/** For an explicit `--type`: the schedule must exist, and the message says how to make it. */
export async function requireSchedule(client: Client, spec: Spec, type: BackupType): Promise<FoundSchedule> {
  const [found] = await findSchedules(client, spec, type);
  if (!found) {
    const inSpec = spec.backups?.schedule?.[type] !== undefined;
    throw new Error(`no schedule ${scheduleId(spec.stanza, type)} on the server: ${inSpec ? 'run "stanzactl schedule apply" first' : `the spec has no backups.schedule.${type}`}`);
  }
  return found;
}
