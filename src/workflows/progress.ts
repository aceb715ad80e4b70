import { defineQuery } from '@temporalio/workflow';
import { PROGRESS_QUERY } from '../workflow-ids';

export interface StepProgress {
  readonly name: string;
  status: 'running' | 'done' | 'failed';
  changed?: boolean;
  detail?: string;
  readonly startedAt: number;
  endedAt?: number;
}

export interface Progress {
  readonly steps: StepProgress[];
}

/** Shared by workflows and the CLI: each step as it starts and ends. */
export const progressQuery = defineQuery<Progress>(PROGRESS_QUERY);
