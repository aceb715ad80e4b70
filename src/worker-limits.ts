import { DEFAULT_SSH_CHANNELS_PER_CONNECTION, DEFAULT_SSH_CONNECTIONS_PER_HOST } from './remote/ssh-pool';

/**
 * How much one worker does at once, chosen for what it talks to: SSH servers with OpenSSH's
 * defaults (MaxSessions 10 channels per connection, MaxStartups 10:30:100 unauthenticated
 * connections) and a Temporal server shared with other workers. Each is overridable by an
 * environment variable, read once when the worker starts; a bad value stops it then.
 */
export interface WorkerLimits {
  /**
   * Commands open at once on one SSH connection; the pool keeps one more channel for killing a
   * command, so this + 1 must fit the hosts' MaxSessions (10 by default: 8 leaves one spare).
   */
  readonly sshChannelsPerConnection: number;
  /**
   * SSH connections to one host (per SSH login), opened one at a time: never more than one
   * unauthenticated connection of this worker at a host, far inside MaxStartups.
   */
  readonly sshConnectionsPerHost: number;
  /**
   * Activity slots. Defaults to what the pool carries to one host at once (channels x
   * connections): every activity can then have its command running even if all target the
   * same host, and none waits in the pool's queue, where its command's timeout would already run.
   * More slots would only queue; fewer would idle SSH capacity. Activities are I/O-bound (they
   * wait on SSH), so the slots cost little CPU.
   */
  readonly maxActivities: number;
  /**
   * Workflow tasks at once. stanzactl's workflows are small and decide in milliseconds; a handful
   * of slots keeps a 2-core worker responsive under a burst (a schedule firing for many stanzas)
   * without taking the CPU its activities' SSH handling needs. The SDK's 40 is sized for big fleets.
   */
  readonly maxWorkflowTasks: number;
  /**
   * Workflow runs kept in memory between tasks (the sticky cache): a site runs a few workflows per
   * stanza at once (provision, a backup, rebuilds, status), so this covers dozens of stanzas; an
   * evicted run is replayed from its history, short for these workflows.
   */
  readonly maxCachedWorkflows: number;
}

const DEFAULT_MAX_WORKFLOW_TASKS = 8;
const DEFAULT_MAX_CACHED_WORKFLOWS = 100;

/** A whole number in [min, max] from `name`, or `fallback` when unset. */
function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`);
  return n;
}

export function workerLimits(env: NodeJS.ProcessEnv = process.env): WorkerLimits {
  // 63 channels + the kill channel = 64: a host would need MaxSessions raised that far.
  const sshChannelsPerConnection = wholeNumber(env, 'STANZACTL_SSH_CHANNELS_PER_CONNECTION', DEFAULT_SSH_CHANNELS_PER_CONNECTION, 1, 63);
  const sshConnectionsPerHost = wholeNumber(env, 'STANZACTL_SSH_CONNECTIONS_PER_HOST', DEFAULT_SSH_CONNECTIONS_PER_HOST, 1, 16);
  return {
    sshChannelsPerConnection,
    sshConnectionsPerHost,
    maxActivities: wholeNumber(env, 'STANZACTL_MAX_ACTIVITIES', sshChannelsPerConnection * sshConnectionsPerHost, 1, 1000),
    // The SDK refuses fewer than 2 while it caches workflows (a poller each for the sticky and the shared queue).
    maxWorkflowTasks: wholeNumber(env, 'STANZACTL_MAX_WORKFLOW_TASKS', DEFAULT_MAX_WORKFLOW_TASKS, 2, 1000),
    maxCachedWorkflows: wholeNumber(env, 'STANZACTL_MAX_CACHED_WORKFLOWS', DEFAULT_MAX_CACHED_WORKFLOWS, 0, 100_000),
  };
}

/** One line for the worker's start message. */
export function describeLimits(l: WorkerLimits): string {
  return `${l.maxActivities} activities, ${l.maxWorkflowTasks} workflow tasks, ${l.maxCachedWorkflows} cached workflows; ` +
    `SSH: ${l.sshChannelsPerConnection} commands per connection (+1 for kills), ${l.sshConnectionsPerHost} connections per host`;
}
