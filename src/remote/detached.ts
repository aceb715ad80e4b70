import { program } from '../paths';
import { describe, script, toShellLine, withStdin, type Command } from '../shell/command';
import { whileAway } from './away';
import { RemoteTimeoutError } from './errors';
import { check } from './ssh-pool';
import type { HostAddress, Remote } from './types';

/**
 * Long commands (pgBackRest backup, restore) run detached on their host: they outlive the SSH
 * connection and the worker, and a retried activity re-attaches to the run its crashed attempt
 * started instead of starting a second one. A run lives in /var/lib/stanzactl/runs/<runKey>/:
 *   claim/    made by the one start that won (mkdir is atomic)
 *   command   the masked description, for humans
 *   out       stdout and stderr
 *   pid       "PID STARTTIME" (field 22 of /proc/PID/stat, so a reused pid is not taken for ours)
 *   rc        the exit status, renamed into place when the command ends
 */

export interface DetachedStatus {
  state: 'running' | 'exited' | 'lost' | 'absent';
  code?: number;
  outputTail: string;
  /** ISO 8601. */
  startedAt?: string;
}

const RUNS = '/var/lib/stanzactl/runs';

// Start, poll, clear and stop, the first argument naming which (scripts/detached.sh); the runner
// that outlives the SSH session to record the exit status (scripts/runner.sh) travels as an argument.
const DETACHED = program('remote', 'detached');
const RUNNER = program('remote', 'runner');
const act = (action: string, runKey: string, ...args: string[]): Command => script(DETACHED, action, RUNS, validKey(runKey), ...args);

const POLL_TIMEOUT_MS = 30_000;

function validKey(runKey: string): string {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(runKey) || /^\.+$/.test(runKey)) throw new Error(`invalid run key ${JSON.stringify(runKey)}`);
  return runKey;
}

/**
 * Starts `command` detached, or attaches when a run with this key was already started (by a
 * crashed attempt, or concurrently). The command runs as `command.user` like any other; it takes
 * no stdin, since nobody is left to write it.
 */
export async function startOrAttach(remote: Remote, host: HostAddress, runKey: string, command: Command): Promise<{ attached: boolean }> {
  if (command.stdin !== undefined) throw new Error(`a detached command takes no stdin: ${describe(command)}`);
  // The wrapper already runs as root (through the pool's become), so the inner line switches
  // user the way root does.
  const start = withStdin(act('start', runKey, describe(command), RUNNER), toShellLine(command, 'root'));
  const r = check(host, start, await remote.run(host, start, { timeoutMs: POLL_TIMEOUT_MS }));
  return { attached: r.stdout.trim() === 'true' };
}

/**
 * One SSH round trip. `absent`: no run with this key was ever started (or it was cleared).
 * `waitMs`: a running command is given up to that long (to the next tenth of a second) to end before the answer.
 */
export async function pollDetached(remote: Remote, host: HostAddress, runKey: string, tailLines = 20, waitMs = 0, signal?: AbortSignal): Promise<DetachedStatus> {
  const c = act('poll', runKey, String(tailLines), String(Math.ceil(waitMs / 100)));
  const { stdout } = check(host, c, await remote.run(host, c, { timeoutMs: POLL_TIMEOUT_MS + waitMs, signal }));
  const [state, started] = stdout.split('\n', 2);
  const outputTail = stdout.split('\n').slice(2).join('\n');
  const startedAt = started === '-' ? undefined : started;
  if (state === 'running' || state === 'lost' || state === 'absent') return { state, outputTail, startedAt };
  const exited = /^exited (\d+)$/.exec(state);
  if (exited === null) throw new Error(`${host.name}: unexpected status of run ${runKey}: ${state}`);
  return { state: 'exited', code: Number(exited[1]), outputTail, startedAt };
}

export interface WaitOptions {
  /** Each poll waits on the host up to this long for the run to end; the next one follows at once. */
  readonly intervalMs: number;
  readonly tailLines?: number;
  readonly onProgress?: (s: DetachedStatus) => void | Promise<void>;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * How long the host may stay unreachable (the run goes on without us meanwhile) before the
   * wait fails with HostAwayError; without it, the first failed poll fails the wait.
   */
  readonly awayBudgetMs?: number;
  readonly onAway?: (awayMs: number, e: Error) => void;
}

/**
 * Polls until the run exits or is lost, reporting each poll to `onProgress` (activities heartbeat
 * there). On `timeoutMs` it throws RemoteTimeoutError and leaves the run going; on `signal` it
 * throws the signal's reason (Temporal's cancellation).
 */
export async function waitDetached(remote: Remote, host: HostAddress, runKey: string, opts: WaitOptions): Promise<DetachedStatus & { state: 'exited' | 'lost' }> {
  const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
  const poll = () => pollDetached(remote, host, runKey, opts.tailLines, opts.intervalMs, opts.signal);
  const { awayBudgetMs } = opts;
  for (;;) {
    opts.signal?.throwIfAborted();
    const s = awayBudgetMs === undefined
      ? await poll()
      : await whileAway(host, poll, { budgetMs: awayBudgetMs, retryMs: opts.intervalMs, what: `while run ${runKey} ran there`, signal: opts.signal, onAway: opts.onAway });
    await opts.onProgress?.(s);
    // Absent after a start means someone cleared the run: as good as lost.
    if (s.state !== 'running') return { ...s, state: s.state === 'absent' ? 'lost' : s.state };
    if (deadline !== undefined && Date.now() + opts.intervalMs > deadline) {
      throw new RemoteTimeoutError(host, opts.timeoutMs as number, `waiting for detached run ${runKey} (still running; a retry re-attaches)`);
    }
  }
}

/** Removes a finished or lost run, so its key can start afresh. Refuses while it is running. */
export async function clearDetached(remote: Remote, host: HostAddress, runKey: string): Promise<void> {
  const c = act('clear', runKey);
  check(host, c, await remote.run(host, c, { timeoutMs: POLL_TIMEOUT_MS }));
}

/**
 * Ends a run that nobody will wait for any more (its process group: the command and whatever it
 * started) and reports whether it was running. A finished or absent run is left as it is.
 */
export async function stopDetached(remote: Remote, host: HostAddress, runKey: string): Promise<boolean> {
  const c = act('stop', runKey);
  const { stdout } = check(host, c, await remote.run(host, c, { timeoutMs: POLL_TIMEOUT_MS }));
  return stdout.trim() !== 'not running';
}
