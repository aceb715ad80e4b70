import { ApplicationFailure, ActivityFailure, ChildWorkflowFailure, proxyActivities, setHandler, type ActivityFunctionWithOptions, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { quick } from './profiles';
import { progressQuery, type StepProgress } from './progress';

export interface Changed {
  readonly changed: boolean;
  readonly detail: string;
}

/** The one proxy of the workflows: each call gives its own profile, deep-merged into quick's. */
const acts = proxyActivities<Activities>(quick);

type Activity = keyof Activities;
type ResultOf<K extends Activity> = Awaited<ReturnType<Activities[K]>>;
/** The activities whose result a step log can record: whether they changed anything, and what. */
type StepActivity = { [K in Activity]: ResultOf<K> extends Changed ? K : never }[Activity];

/** The message a DBA acts on: an activity's own failure rather than Temporal's wrapper. */
export function messageOf(e: unknown): string {
  if (e instanceof ChildWorkflowFailure && e.cause) return messageOf(e.cause);
  if (e instanceof ActivityFailure && e.cause instanceof ApplicationFailure) return e.cause.message;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs `activity` with `args` under `profile`, `title` the one-line summary the Temporal UI shows
 * for the call; arguments and result are the activity's own types.
 */
/**
 * Optional last arguments of a step, without the undefined ones at the end: an argument added to an
 * activity is sent only when given, not as null, so runs recorded before it replay with the
 * arguments they had (tests/unit/replay.test.ts compares them).
 */
export function present<A extends unknown[]>(...args: A): A {
  let given = args.length;
  while (given > 0 && args[given - 1] === undefined) given--;
  return args.slice(0, given) as A;
}

export function call<K extends Activity>(activity: K, profile: ActivityOptions, title: string, ...args: Parameters<Activities[K]>): Promise<ResultOf<K>> {
  // Every activity is a function: the proxy's type leaves that to be said for a key not yet known.
  const proxy = acts[activity] as ActivityFunctionWithOptions<Activities[K]>;
  return proxy.executeWithOptions({ ...profile, summary: title }, args);
}

/** Records each step for the progress query; the workflow's result lists them too. */
export class StepLog {
  readonly steps: StepProgress[] = [];

  constructor() {
    setHandler(progressQuery, () => ({ steps: this.steps }));
  }

  /** `activity` as the step `name`: see call. */
  step<K extends StepActivity>(name: string, activity: K, profile: ActivityOptions, title: string, ...args: Parameters<Activities[K]>): Promise<ResultOf<K>> {
    return this.run(name, () => call(activity, profile, title, ...args));
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
