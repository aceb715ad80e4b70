import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Every activity heartbeats each second while it runs (activities/heartbeat.ts) and the worker
 * sends one at least every second (maxHeartbeatThrottleInterval), so the server hears from a live
 * attempt about once a second. 5 s of silence means the worker died or hangs: the attempt is
 * failed and retried after the retry's initialInterval (half a second), so a step resumes about
 * 5.5 s after a worker crash instead of after its whole startToCloseTimeout. 5 s leaves a live worker 4 s of slack,
 * enough for a 2-core machine under load (an event loop stalled that long is itself a fault).
 */
const heartbeatTimeout = '5 seconds';

/** Facts, files, psql: seconds each; SSH and lock trouble is retried with backoff. */
export const quick: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout,
  // 9 attempts: about 90 s of backoff before a step gives up on an unreachable host.
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 9 },
};

/** Backups and restores run detached on their host: a retry re-attaches to the running command. */
export const long: ActivityOptions = {
  startToCloseTimeout: '6 hours',
  heartbeatTimeout,
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6 },
};

/** Waiting for a standby to stream: polls. */
export const waiting: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout,
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 4 },
};

/**
 * Giving back what a run holds (the backup lock): keeps trying while the host is unreachable, so
 * a host that comes back within the hour does not keep a lock (and a stray run) of a failed backup.
 */
export const release: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  scheduleToCloseTimeout: '1 hour',
  heartbeatTimeout,
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};
