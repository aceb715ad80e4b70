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

// Runs as root in its own session; lives as long as the command to record its exit status.
// The command line arrives on stdin, so secrets in it stay out of argv and the environment.
const RUNNER = `dir=$1
line=$(cat)
# A TERM/INT sent to the whole run should end the command but not the runner, which must record
# the status. A trap with a handler (unlike an ignored signal) is reset in the command's subshell.
trap : TERM INT
stat=$(cat /proc/$$/stat); read -ra f <<<"\${stat##*) }"
printf '%s %s\\n' "$$" "\${f[19]}" > "$dir/pid.tmp" && mv -f "$dir/pid.tmp" "$dir/pid"
(eval "$line") </dev/null; rc=$?
printf '%s\\n' "$rc" > "$dir/rc.tmp" && mv -f "$dir/rc.tmp" "$dir/rc"`;

// Finished runs are kept so a late retry still finds its result; after 14 days nobody retries.
const START = `set -eu
dir=${RUNS}/$1 desc=$2 runner=$3
umask 077
mkdir -p "$dir"
find ${RUNS} -mindepth 2 -maxdepth 2 -name rc -mtime +14 -printf '%h\\0' | xargs -0r rm -rf --
if mkdir "$dir/claim" 2>/dev/null; then
  attached=false
  printf '%s\\n' "$desc" > "$dir/command"
  line=$(cat)
  printf '%s' "$line" | setsid -f nohup bash -c "$runner" stanzactl-run "$dir" >"$dir/out" 2>&1
else
  attached=true
fi
# Return only once the run has recorded its process (or already ended), so a poll right after
# a start never takes "not started yet" for "lost".
for _ in $(seq 100); do
  if [ -e "$dir/pid" ] || [ -e "$dir/rc" ]; then echo "$attached"; exit 0; fi
  sleep 0.1
done
echo "run $1 recorded no process within 10 s" >&2
exit 1`;

const ALIVE = `dir=${RUNS}/$1
alive() {
  local pid start stat f
  [ -e "$dir/pid" ] && read -r pid start < "$dir/pid" || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  read -ra f <<<"\${stat##*) }"
  # A zombie is dead: PID 1 may take a while to reap the orphaned runner.
  [ "\${f[0]}" != Z ] && [ "\${f[19]}" = "$start" ]
}`;

// $3: tenths of a second to wait on the host for a running command to end, so that the end is
// seen within 0.1 s of it, and a wait costs one round trip per $3 tenths.
const POLL = `${ALIVE}
if [ ! -d "$dir" ]; then echo absent; echo -; exit 0; fi
i=0
while [ "$i" -lt "$3" ] && [ ! -e "$dir/rc" ] && alive; do sleep 0.1; i=$((i + 1)); done
if [ -e "$dir/rc" ]; then echo "exited $(cat "$dir/rc")"
elif alive; then echo running
elif [ -e "$dir/rc" ]; then echo "exited $(cat "$dir/rc")"
else echo lost
fi
if [ -e "$dir/pid" ]; then date -u -r "$dir/pid" +%Y-%m-%dT%H:%M:%SZ; else echo -; fi
tail -n "$2" "$dir/out" 2>/dev/null || true`;

const CLEAR = `${ALIVE}
if alive; then echo "run $1 is still running" >&2; exit 3; fi
rm -rf -- "$dir"`;

// TERM first, so pgBackRest removes its own lock and temporary files; KILL if it lingers.
const STOP = `${ALIVE}
alive || { echo "not running"; exit 0; }
read -r pid start < "$dir/pid"
kill -TERM -- "-$pid" 2>/dev/null || true
# The runner records the exit as soon as the command's shell ends; what that shell started (runuser
# waits 2 s for its child, pgBackRest for its workers) may outlive it: wait for the whole group.
for _ in $(seq 100); do kill -0 -- "-$pid" 2>/dev/null || { echo stopped; exit 0; }; sleep 0.1; done
kill -KILL -- "-$pid" 2>/dev/null || true
echo killed`;

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
  const start = withStdin(script(START, validKey(runKey), describe(command), RUNNER), toShellLine(command, 'root'));
  const r = check(host, start, await remote.run(host, start, { timeoutMs: POLL_TIMEOUT_MS }));
  return { attached: r.stdout.trim() === 'true' };
}

/**
 * One SSH round trip. `absent`: no run with this key was ever started (or it was cleared).
 * `waitMs`: a running command is given up to that long (to the next tenth of a second) to end before the answer.
 */
export async function pollDetached(remote: Remote, host: HostAddress, runKey: string, tailLines = 20, waitMs = 0, signal?: AbortSignal): Promise<DetachedStatus> {
  const c = script(POLL, validKey(runKey), String(tailLines), String(Math.ceil(waitMs / 100)));
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
  const c = script(CLEAR, validKey(runKey));
  check(host, c, await remote.run(host, c, { timeoutMs: POLL_TIMEOUT_MS }));
}

/**
 * Ends a run that nobody will wait for any more (its process group: the command and whatever it
 * started) and reports whether it was running. A finished or absent run is left as it is.
 */
export async function stopDetached(remote: Remote, host: HostAddress, runKey: string): Promise<boolean> {
  const c = script(STOP, validKey(runKey));
  const { stdout } = check(host, c, await remote.run(host, c, { timeoutMs: POLL_TIMEOUT_MS }));
  return stdout.trim() !== 'not running';
}
