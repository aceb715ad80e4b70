import type { ActivityOptions } from '@temporalio/workflow';

/** Facts, files, psql: seconds each; SSH and lock trouble is retried with backoff. */
export const quick: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 8 },
};

/**
 * Backups and restores run detached on their host and heartbeat every poll: a short heartbeat
 * timeout hands a crashed worker's attempt to another worker quickly, which re-attaches.
 */
export const long: ActivityOptions = {
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
};

/** Waiting for a standby to stream: heartbeats while it polls. */
export const waiting: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 3 },
};

/**
 * Giving back what a run holds (the backup lock): keeps trying while the host is unreachable, so
 * a host that comes back within the hour does not keep a lock (and a stray run) of a failed backup.
 */
export const release: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};
