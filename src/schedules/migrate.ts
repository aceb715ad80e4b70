import type { Client, ScheduleDescription } from '@temporalio/client';
import { legacyScheduleId, type AppliedKind, type ClusterRef } from '../workflow-ids';
import { OFFSITE_KINDS } from '../spec/schema';
import { describeEach } from './lookup';
import { workflowTypeOf } from './plan';

/**
 * Schedule ids once named the stanza alone (`backup-<stanza>-full`), so two clusters of one stanza
 * name on two repository hosts shared them. `schedule apply` replaces a schedule under such an id
 * with the cluster's own, but only one stanzactl made for this very cluster: the id alone cannot
 * tell, the schedule's action can.
 */

/** A schedule found under the id an older stanzactl gave a kind. */
export interface LegacySchedule {
  readonly id: string;
  readonly type: AppliedKind;
  readonly description: Pick<ScheduleDescription, 'action' | 'state'>;
}

/** Whether it starts the kind's workflow on a spec of this stanza and repository host (the spec is every kind's first argument). */
function startsForCluster(cluster: ClusterRef, s: LegacySchedule): boolean {
  const spec = s.description.action.args?.[0] as Partial<ClusterRef> | undefined;
  return s.description.action.workflowType === workflowTypeOf(s.type) && spec?.stanza === cluster.stanza && spec.repository?.host === cluster.repository.host;
}

/**
 * Of the schedules under old ids, those to delete: this cluster's. One of another repository host's
 * cluster of the same stanza name (its own apply replaces it) or one edited to start something
 * else is left alone.
 */
export function legacyToReplace(cluster: ClusterRef, found: readonly LegacySchedule[]): LegacySchedule[] {
  return found.filter((s) => startsForCluster(cluster, s));
}

/** The schedules on the server under the old ids of `kinds`. */
export function findLegacy(client: Client, cluster: ClusterRef, kinds: readonly AppliedKind[]): Promise<LegacySchedule[]> {
  // Offsite schedules came with the ids that name the repository host: none has an old one.
  const old = kinds.filter((k) => !(OFFSITE_KINDS as readonly string[]).includes(k));
  return describeEach(client, old.map((type) => ({ id: legacyScheduleId(cluster.stanza, type), type })));
}
