import { program } from '../paths';
import { quote, type Become } from '../shell/command';

/**
 * Each command of an activity attempt records its process group on its host, so that the next
 * attempt of that activity can kill what a dead attempt (worker SIGKILLed, attempt timed out)
 * left running before it runs anything there. The record and the reaping ride on the command's
 * own line: no extra SSH round trip.
 *
 *   /var/lib/stanzactl/cmds/<key>.<attempt>.<pgid>   "PGID STARTTIME" (field 22 of /proc/PID/stat)
 *
 * The directory is root's (0700), so no other account can plant or remove records. Detached runs
 * (runs/) start in their own session and are not in the group: they survive and are re-attached.
 */
export const CMDS = '/var/lib/stanzactl/cmds';

/** Names one attempt of one activity; `key` stays the same across its attempts. */
export interface AttemptTag {
  /** [A-Za-z0-9_-], e.g. a hash of workflowId, runId and activityId. */
  readonly key: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

// Kills what earlier attempts left, then records this command (scripts/record-command.sh, POSIX sh).
const BOOK = program('remote', 'record-command');
const KILL_RECORDED = program('remote', 'kill-recorded');

const PGID_MARK = 'stanzactl-pgid:';

function validTag(t: AttemptTag): AttemptTag {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(t.key) || !Number.isInteger(t.attempt) || t.attempt < 1) throw new Error(`invalid attempt tag ${JSON.stringify(t)}`);
  return t;
}

/**
 * The full line for the remote shell: the pid mark on stderr (the shell is its session's leader,
 * so its pid names the process group to kill), and with a tag the record around the command.
 * A command that cannot be recorded does not run: its retry could not stop it. `render` gives the
 * command's line as a login of `become` runs it; a tagged command runs, with its record, in one
 * root shell (one sudo, not three: each costs a PAM session and a log line, about 7 ms of CPU on
 * the host, which made up a third of a no-op provision's time on a sudo login).
 */
export function wrapLine(render: (become: Become) => string, become: Become, tag?: AttemptTag): string {
  const mark = `echo ${PGID_MARK}$$ >&2; `;
  if (tag === undefined) return `${mark}${render(become)}`;
  const { key, attempt } = validTag(tag);
  const recorded = [
    `sh -c ${quote(BOOK)} stanzactl-cmd "$1" "$2" "$3" "$4" || { echo "cannot record the command under $1" >&2; exit 125; }`,
    render('root'),
    'rc=$?; rm -f "$1/$2.$3.$4"; exit $rc',
  ].join('\n');
  const su = become === 'root' ? '' : 'sudo -n ';
  return `${mark}${su}sh -c ${quote(recorded)} stanzactl-cmd ${quote(CMDS)} ${key} ${attempt} $$`;
}

/** Kills a process group and removes its record: the command line for it. */
export function killLine(pgid: number, tag?: AttemptTag): string[] {
  return tag === undefined ? ['kill', '-KILL', '--', `-${pgid}`] : ['bash', '-c', KILL_RECORDED, 'stanzactl-kill', String(pgid), `${CMDS}/${validTag(tag).key}.${tag.attempt}.${pgid}`];
}

const MARK_LINE = new RegExp(`(^|\n)${PGID_MARK}(\\d+)\n`);

/** The pid the shell marked on stderr, once that line has arrived. */
export function markedPgid(stderr: string): number | undefined {
  const m = MARK_LINE.exec(stderr);
  return m === null ? undefined : Number(m[2]);
}

/** stderr without the mark line. */
export function unmarked(stderr: string): string {
  return stderr.replace(MARK_LINE, '$1');
}
