import { createHash } from 'node:crypto';
import { Context, type Info } from '@temporalio/activity';
import type { AttemptTag } from '../remote/command-record';
import { RemoteTimeoutError } from '../remote/errors';
import type { HostAddress, Remote, RunOptions } from '../remote/types';
import { scheduledBy } from './scheduled-by';

/**
 * What a command needs to die with its attempt: killing its process group and reporting the
 * timeout takes a round trip on a connection that may be busy, which must fit before Temporal
 * itself times the attempt out and schedules the retry.
 */
const KILL_MARGIN_MS = 5_000;

/** Same for every attempt of one activity in one workflow run, different between them. */
export function attemptKey(info: Pick<Info, 'workflowExecution' | 'activityType' | 'activityId'>): string {
  const { workflowId, runId } = scheduledBy(info);
  return createHash('sha256').update(`${workflowId}\0${runId}\0${info.activityId}`).digest('hex').slice(0, 32);
}

/**
 * The time a command may take: what it asks for, but never past the attempt's deadline (nor the
 * activity's schedule-to-close deadline, when it has one), so a command always ends (killed, with
 * a RemoteTimeoutError) before Temporal retries its activity. Undefined when no time is left.
 */
export function commandTimeoutMs(
  info: Pick<Info, 'currentAttemptScheduledTimestampMs' | 'startToCloseTimeoutMs' | 'scheduledTimestampMs' | 'scheduleToCloseTimeoutMs'>,
  now: number,
  askedMs?: number,
): number | undefined {
  const attemptEnds = info.currentAttemptScheduledTimestampMs + info.startToCloseTimeoutMs;
  // 0 when the activity has no schedule-to-close limit.
  const activityEnds = info.scheduleToCloseTimeoutMs > 0 ? info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs : Infinity;
  const left = Math.min(attemptEnds, activityEnds) - KILL_MARGIN_MS - now;
  if (left <= 0) return undefined;
  return askedMs === undefined ? left : Math.min(askedMs, left);
}

/**
 * The Remote one activity attempt uses: every command gets a timeout within the attempt, is killed
 * when the attempt is cancelled (or times out, or its worker shuts down), and is recorded on its
 * host so the next attempt kills it first if this worker dies (see remote/command-record.ts).
 */
export function attemptRemote(remote: Remote, ctx: Context = Context.current()): Remote {
  const attempt: AttemptTag = { key: attemptKey(ctx.info), attempt: ctx.info.attempt };
  return {
    async run(host: HostAddress, command, options: RunOptions = {}) {
      const timeoutMs = commandTimeoutMs(ctx.info, Date.now(), options.timeoutMs);
      if (timeoutMs === undefined) throw new RemoteTimeoutError(host, 0, 'before starting a command: this attempt has no time left');
      return remote.run(host, command, { ...options, timeoutMs, signal: ctx.cancellationSignal, attempt });
    },
    // The pool is the worker's, shared by every activity.
    close: async () => undefined,
  };
}
