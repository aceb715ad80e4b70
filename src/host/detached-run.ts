import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { hostAwayBudgetMs, whileAway } from '../remote/away';
import type { Command } from '../shell/command';
import { clearDetached, pollDetached, startOrAttach, waitDetached } from '../remote/detached';
import type { HostAddress } from '../remote/types';
import { reportProgress } from './heartbeat';
import type { HostOps } from './host-ops';
import { PgbackrestError } from './pgbackrest';
import { scheduledBy } from './scheduled-by';

/**
 * A key that stays the same across retries of one activity in one workflow run, so a retry after a
 * worker crash finds the command the crashed attempt started, and differs between runs.
 */
export function runKey(host: HostAddress, part?: string): string {
  const info = Context.current().info;
  const { workflowId, runId } = scheduledBy(info);
  return runKeyOf(workflowId, runId, runName(info.activityType, part), host);
}

/** An activity's runs on one host, told apart by `part` when one workflow run calls it for several (repo2's backup beside repo1's). */
export function runName(activityType: string, part?: string): string {
  return part === undefined ? activityType : `${activityType}.${part}`;
}

/** The run key another workflow run's activity uses, e.g. to ask whether its backup still runs. */
export function runKeyOf(workflowId: string, runId: string, activityType: string, host: HostAddress): string {
  const key = `${workflowId}.${runId}.${activityType}.${host.name}`.replace(/[^A-Za-z0-9._-]/g, '_');
  // Cut to a file name's length, a long key ends in a hash of the whole: two runs whose keys differ
  // only past the cut (repo2's backup beside repo1's, a long stanza and host) never share one.
  return key.length <= 200 ? key : `${key.slice(0, 183)}.${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/** Whether an earlier attempt of this activity already started its run on `host`. */
export async function startedBefore(ops: HostOps, host: HostAddress, part?: string): Promise<boolean> {
  return (await pollDetached(ops.remote, host, runKey(host, part), 0)).state !== 'absent';
}

export interface DetachedOutcome {
  readonly attached: boolean;
  /** An earlier attempt's run had already ended when this one attached: this attempt changed nothing. */
  readonly finishedBefore: boolean;
  readonly output: string;
  /** When the run started on its host (ISO 8601, whole seconds): the start of a run this attempt re-attached to. */
  readonly startedAt?: string;
}

export interface DetachedOptions {
  /** How much of the output to read back each poll (the caller parses its result from it). */
  readonly tailLines?: number;
  /** Reads a percent done from the output, for the heartbeat. */
  readonly progress?: (output: string) => number | undefined;
  /** The error a non-zero exit becomes; pgBackRest's exit codes (PgbackrestError) unless told. */
  readonly failure?: (code: number, output: string) => Error;
  /** Tells this run from the activity's others in the same workflow run (runKey). */
  readonly part?: string;
}

/**
 * Runs a long command (pgBackRest, pg_rewind) detached on its host, heartbeating its latest output
 * line, and re-attaches when a previous attempt of this activity already started it.
 */
export async function runDetached(ops: HostOps, host: HostAddress, command: Command, o: DetachedOptions = {}): Promise<DetachedOutcome> {
  const ctx = Context.current();
  const key = runKey(host, o.part);
  const budgetMs = hostAwayBudgetMs();
  let details: Record<string, unknown> = { runKey: key };
  const report = (d: Record<string, unknown>) => reportProgress((details = d));
  const onAway = (awayMs: number, e: Error) => report({ ...details, unreachableFor: Math.round(awayMs / 1000), last: e.message.split('\n', 1)[0] });
  const { attached } = await whileAway(host, () => startOrAttach(ops.remote, host, key, command), {
    budgetMs, retryMs: 1000, what: `before run ${key} could start (or re-attach)`, signal: ctx.cancellationSignal, onAway,
  });
  const finishedBefore = attached && (await pollDetached(ops.remote, host, key, 0)).state === 'exited';
  // The host watches for the end each tenth of a second: a short backup or restore is seen to end
  // at once, while a long one costs a round trip (and a heartbeat with its latest line) a second.
  const status = await waitDetached(ops.remote, host, key, {
    intervalMs: 1000,
    tailLines: o.tailLines,
    signal: ctx.cancellationSignal,
    awayBudgetMs: budgetMs,
    onAway,
    onProgress: (s) => report({ runKey: key, attached, percent: o.progress?.(s.outputTail), last: s.outputTail.trim().split('\n').pop() ?? '' }),
  });
  if (status.state === 'exited' && status.code === 0) return { attached, finishedBefore, output: status.outputTail, startedAt: status.startedAt };
  // A failed or vanished run must not be re-attached by the next attempt: that one starts afresh.
  await clearDetached(ops.remote, host, key);
  if (status.state === 'lost') throw new Error(`${host.name}: the process of run ${key} vanished without an exit status (host restarted?)`);
  const code = status.code ?? -1;
  throw o.failure ? o.failure(code, status.outputTail) : new PgbackrestError(host.name, code, status.outputTail);
}
