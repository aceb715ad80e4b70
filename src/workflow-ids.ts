import type { ScheduleKind } from './spec/schema';

/**
 * Names the CLI and the workflows both need. The CLI process must not load workflow code (it runs in
 * the worker's sandbox and replays from history), so these live apart and import nothing at runtime.
 */

/** A provision, at most one per stanza at a time; the CLI re-attaches to a running one. */
export function provisionWorkflowId(stanza: string): string {
  return `provision-${stanza}`;
}

/** Manual runs `backup-<stanza>-manual-<time>`; scheduled runs `backup-<stanza>-<type>-<time>` (the server adds the time). */
export function backupWorkflowId(stanza: string): string {
  return `backup-${stanza}`;
}

/** `backup-<stanza>-<type>` for backups, `drill-<stanza>` for the restore drill. */
export function scheduleId(stanza: string, kind: ScheduleKind): string {
  return kind === 'drill' ? drillWorkflowId(stanza) : `backup-${stanza}-${kind}`;
}

/** `schedule apply` keeps it when the spec sets `status.every`: stanzaStatus runs that feed the workers' metrics. */
export function statusScheduleId(stanza: string): string {
  return `status-${stanza}`;
}

export function rebuildWorkflowId(stanza: string, node: string): string {
  return `rebuild-${stanza}-${node}`;
}

/**
 * Restore drills: a manual run is `drill-<stanza>` (one at a time), scheduled runs get the schedule's
 * id `drill-<stanza>` plus the time the server appends.
 */
export function drillWorkflowId(stanza: string): string {
  return `drill-${stanza}`;
}

/** A restore of the stanza's cluster to a host that is none of its nodes; one per stanza and host at a time. */
export function restoreWorkflowId(stanza: string, host: string): string {
  return `restore-${stanza}-${host}`;
}

/** A recover of the whole cluster, at most one per stanza at a time. */
export function recoverWorkflowId(stanza: string): string {
  return `recover-${stanza}`;
}

/** The rehearsal a recover runs on drills.host before it stops anything (a child of recover-<stanza>). */
export function rehearsalWorkflowId(stanza: string): string {
  return `rehearse-${stanza}`;
}

/** The read-only plan the CLI shows before a recover, switchover or failover: one per asking, named by the time. */
export function planWorkflowId(action: 'recover' | 'switchover' | 'failover', stanza: string, at: Date): string {
  return `${action}-plan-${stanza}-${at.toISOString().replace(/[:.]/g, '')}`;
}

/** The query every long workflow answers with its steps so far. */
export const PROGRESS_QUERY = 'progress';

/** A planned switchover, at most one per stanza at a time. */
export function switchoverWorkflowId(stanza: string): string {
  return `switchover-${stanza}`;
}

/** A failover, at most one per stanza at a time. */
export function failoverWorkflowId(stanza: string): string {
  return `failover-${stanza}`;
}
