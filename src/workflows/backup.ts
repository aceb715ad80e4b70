import type { BackupType } from '../spec/schema';

export interface BackupRequest {
  readonly type: BackupType;
}

export interface BackupDetails {
  readonly label: string;
  readonly type: BackupType;
  readonly databaseSize: number;
  readonly deltaSize: number;
  readonly repoSize: number;
  readonly repoDeltaSize: number;
  readonly startedAt: number;
  readonly stoppedAt: number;
  readonly walStart: string;
  readonly walStop: string;
}

export type BackupOutcome =
  | {
      readonly status: 'done';
      readonly backup: BackupDetails;
      readonly seconds: number;
      /** The host the data files were copied from, and why that one. */
      readonly source: { readonly node: string; readonly role: 'primary' | 'standby'; readonly why: string };
    }
  | {
      readonly status: 'skipped';
      readonly reason: string;
      readonly runningSince?: string;
      readonly runningWorkflowId?: string;
    };

/** Workflow ids: manual runs `backup-<stanza>`; scheduled runs `backup-<stanza>-<type>-<time>` (the server adds the time). */
export function backupWorkflowId(stanza: string): string {
  return `backup-${stanza}`;
}

export function scheduleId(stanza: string, type: BackupType): string {
  return `backup-${stanza}-${type}`;
}
