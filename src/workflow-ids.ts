import type { BackupType } from './spec/schema';

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

export function scheduleId(stanza: string, type: BackupType): string {
  return `backup-${stanza}-${type}`;
}

/** `schedule apply` keeps it when the spec sets `status.every`: stanzaStatus runs that feed the workers' metrics. */
export function statusScheduleId(stanza: string): string {
  return `status-${stanza}`;
}

export function rebuildWorkflowId(stanza: string, node: string): string {
  return `rebuild-${stanza}-${node}`;
}

/** A restore of the stanza's cluster to a host that is none of its nodes; one per stanza and host at a time. */
export function restoreWorkflowId(stanza: string, host: string): string {
  return `restore-${stanza}-${host}`;
}

/** The query every long workflow answers with its steps so far. */
export const PROGRESS_QUERY = 'progress';
