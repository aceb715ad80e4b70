import type { ScheduleKind, Spec } from './spec/schema';

/**
 * Names the CLI and the workflows both need. The CLI process must not load workflow code (it runs in
 * the worker's sandbox and replays from history), so these live apart and import nothing at runtime.
 */

/** What tells one cluster from another: its stanza on its repository host (a stanza name is only unique on one host). */
export type ClusterRef = Pick<Spec, 'stanza'> & { readonly repository: Pick<Spec['repository'], 'host'> };

/**
 * `<stanza>@<repository host>`, e.g. `main@backup-srv.example.com` or `main@fd00::5`: every id and
 * metric series of a cluster is keyed by it. Neither a stanza name nor a host name (DNS, IPv4, IPv6)
 * can hold an `@`, so two clusters never share a key.
 */
export function clusterKey(c: ClusterRef): string {
  return `${c.stanza}@${c.repository.host}`;
}

/** A provision, at most one per cluster at a time; the CLI re-attaches to a running one. */
export function provisionWorkflowId(c: ClusterRef): string {
  return `provision-${clusterKey(c)}`;
}

/** Manual runs `backup-<cluster>-manual-<time>`; scheduled runs `backup-<cluster>-<type>-<time>` (the server adds the time). */
export function backupWorkflowId(c: ClusterRef): string {
  return `backup-${clusterKey(c)}`;
}

/** A schedule of `status.every`: stanzaStatus runs that feed the workers' metrics. */
export type AppliedKind = ScheduleKind | 'status';

/**
 * `backup-<key>-<type>`, `backup-<key>-<type>@offsite`, `drill-<key>`, `status-<key>`: the one shape of
 * schedule ids, whatever names the cluster in them. A key holds one `@` and a host name none, so an
 * offsite id (two) never reads as another cluster's repo1 id: `-offsite-full` would, for a
 * repository host named `<host>-offsite`.
 */
function scheduleIdKeyed(key: string, kind: AppliedKind): string {
  if (kind === 'drill' || kind === 'status') return `${kind}-${key}`;
  const offsite = /^offsite-(.*)$/.exec(kind);
  return offsite ? `backup-${key}-${offsite[1]}@offsite` : `backup-${key}-${kind}`;
}

/** `backup-<cluster>-<type>` for backups, `drill-<cluster>` for the restore drill, `status-<cluster>` for `status.every`. */
export function scheduleId(c: ClusterRef, kind: AppliedKind): string {
  return scheduleIdKeyed(clusterKey(c), kind);
}

/**
 * The id stanzactl gave a schedule before ids named the repository host (`backup-<stanza>-full`):
 * `schedule apply` looks for those to replace them.
 */
export function legacyScheduleId(stanza: string, kind: AppliedKind): string {
  return scheduleIdKeyed(stanza, kind);
}

export function rebuildWorkflowId(c: ClusterRef, node: string): string {
  return `rebuild-${clusterKey(c)}-${node}`;
}

/**
 * Restore drills: a manual run is `drill-<cluster>` (one at a time), scheduled runs get the schedule's
 * id, the same, plus the time the server appends.
 */
export function drillWorkflowId(c: ClusterRef): string {
  return scheduleId(c, 'drill');
}

/** A restore of the cluster to a host that is none of its nodes; one per cluster and host at a time. */
export function restoreWorkflowId(c: ClusterRef, host: string): string {
  return `restore-${clusterKey(c)}-${host}`;
}

/** A recover of the whole cluster, at most one per cluster at a time. */
export function recoverWorkflowId(c: ClusterRef): string {
  return `recover-${clusterKey(c)}`;
}

const rehearsalKeyed = (key: string): string => `rehearse-${key}`;

/** The rehearsal a recover runs on drills.host before it stops anything (a child of recover-<cluster>). */
export function rehearsalWorkflowId(c: ClusterRef): string {
  return rehearsalKeyed(clusterKey(c));
}

/** The child id recover runs recorded before ids named the repository host: their replay needs it unchanged. */
export function legacyRehearsalWorkflowId(stanza: string): string {
  return rehearsalKeyed(stanza);
}

/** The read-only plan the CLI shows before a recover, switchover or failover: one per asking, named by the time. */
export function planWorkflowId(action: 'recover' | 'switchover' | 'failover', c: ClusterRef, at: Date): string {
  return `${action}-plan-${clusterKey(c)}-${at.toISOString().replace(/[:.]/g, '')}`;
}

/** The query every long workflow answers with its steps so far. */
export const PROGRESS_QUERY = 'progress';

/** A planned switchover, at most one per cluster at a time. */
export function switchoverWorkflowId(c: ClusterRef): string {
  return `switchover-${clusterKey(c)}`;
}

/** A failover, at most one per cluster at a time. */
export function failoverWorkflowId(c: ClusterRef): string {
  return `failover-${clusterKey(c)}`;
}
