import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Every activity heartbeats each second while it runs (activities/heartbeat.ts) and the worker
 * sends one at least every second (maxHeartbeatThrottleInterval), so the server hears from a live
 * attempt about once a second. 5 s of silence means the worker died or hangs: the attempt is
 * failed and retried after the retry's initialInterval (0.2 s: the server's own latency takes most
 * of the 2 s a resume may add to the timeout), so a step resumes about 6 s after a worker crash
 * instead of after its whole startToCloseTimeout. 5 s leaves a live worker 4 s of slack, enough
 * for a 2-core machine under load (an event loop stalled that long is itself a fault).
 */
const heartbeatTimeout = '5 seconds';

/** Facts, files, psql: seconds each; SSH and lock trouble is retried with backoff. */
export const quick: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout,
  // 10 attempts: about 80 s of backoff before a step gives up on an unreachable host.
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
};

/** Backups and restores run detached on their host: a retry re-attaches to the running command. */
export const long: ActivityOptions = {
  startToCloseTimeout: '6 hours',
  heartbeatTimeout,
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 7 },
};

/** Waiting for a standby to stream: polls. */
export const waiting: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout,
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
};

/**
 * Giving back what a run holds (the backup lock): keeps trying while the host is unreachable, so
 * a host that comes back within the hour does not keep a lock (and a stray run) of a failed backup.
 * maximumAttempts is said, not left out: the workflows' proxy is made with `quick`, and
 * executeWithOptions deep-merges its options into these, so a missing field is quick's 10
 * (the hour would end after 10 attempts, about 80 s). Infinity is the SDK's "no limit".
 */
export const release: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  scheduleToCloseTimeout: '1 hour',
  heartbeatTimeout,
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: Infinity },
};
