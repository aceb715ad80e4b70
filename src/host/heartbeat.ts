import { Context } from '@temporalio/activity';

/**
 * Every activity heartbeats while it runs, so a crashed worker's attempt is retried after the
 * profile's short heartbeatTimeout instead of its startToCloseTimeout, and a cancelled or timed
 * out attempt learns of it (the SDK delivers cancellation only to activities that heartbeat).
 */

// Far below every profile's heartbeatTimeout: the SDK sends the latest heartbeat at most once per
// throttle interval (see the worker's maxHeartbeatThrottleInterval), so this only has to keep
// a fresh one queued, and a busy event loop that delays a tick by seconds still makes it.
const INTERVAL_MS = 1_000;

// The details an activity reported last, re-sent by the periodic heartbeat so progress shown in
// the UI (and read by the next attempt) is not blanked between two progress reports.
const latest = new WeakMap<Context, unknown>();

/** Reports progress details; they ride on every heartbeat until the next report. */
export function reportProgress(details: unknown): void {
  const ctx = Context.current();
  latest.set(ctx, details);
  ctx.heartbeat(details);
}

/** Wraps an activity so it heartbeats every second from start to end. */
export function heartbeating<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const ctx = Context.current();
    ctx.heartbeat();
    const timer = setInterval(() => ctx.heartbeat(latest.get(ctx)), INTERVAL_MS);
    try {
      return await fn(...args);
    } finally {
      clearInterval(timer);
    }
  };
}
