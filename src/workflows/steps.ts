import { ApplicationFailure, ActivityFailure, CancellationScope, ChildWorkflowFailure, setHandler, type ActivityOptions } from '@temporalio/workflow';
import { progressQuery, type StepProgress } from './progress';

export interface Changed {
  readonly changed: boolean;
  readonly detail: string;
}

/** The message a DBA acts on: an activity's own failure rather than Temporal's wrapper. */
export function messageOf(e: unknown): string {
  if (e instanceof ChildWorkflowFailure && e.cause) return messageOf(e.cause);
  if (e instanceof ActivityFailure && e.cause instanceof ApplicationFailure) return e.cause.message;
  return e instanceof Error ? e.message : String(e);
}

/** Records each step for the progress query; the workflow's result lists them too. */
export class StepLog {
  readonly steps: StepProgress[] = [];

  constructor() {
    setHandler(progressQuery, () => ({ steps: this.steps }));
  }

  async run<T extends Changed>(name: string, fn: () => Promise<T>): Promise<T> {
    const step: StepProgress = { name, status: 'running', startedAt: Date.now() };
    this.steps.push(step);
    try {
      const r = await fn();
      Object.assign(step, { status: 'done', changed: r.changed, detail: r.detail, endedAt: Date.now() });
      return r;
    } catch (e) {
      Object.assign(step, { status: 'failed', detail: messageOf(e), endedAt: Date.now() });
      throw e;
    }
  }

  get changed(): boolean {
    return this.steps.some((s) => s.changed);
  }
}

/** Activity options plus the one-line summary the Temporal UI shows for the call. */
export function titled(profile: ActivityOptions, summary: string): ActivityOptions {
  return { ...profile, summary };
}

/**
 * Claims a lock as step `lock`, runs the body, and releases it as step `unlock` also when the body
 * failed or was cancelled: nobody must wait for a run that ended.
 */
export async function holding<T>(log: StepLog, claim: () => Promise<Changed>, free: () => Promise<Changed>, body: () => Promise<T>, [lock, unlock] = ['lock', 'unlock']): Promise<T> {
  await log.run(lock, claim);
  try {
    return await body();
  } finally {
    await CancellationScope.nonCancellable(() => log.run(unlock, free));
  }
}
