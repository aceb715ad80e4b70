import { asUser, cmd, describe, type Command } from '../shell/command';
import type { RecoveryTarget } from '../spec/recovery-target';
import type { Spec } from '../spec/schema';
import { controlCommand, startupLogFile } from './postgres-control';

/** A recovery target as a DBA reads it in a plan or a result. */
export function describeRecoveryTarget(t: RecoveryTarget): string {
  switch (t.type) {
    case 'default':
      return 'the end of the archive';
    case 'immediate':
      return 'the end of the backup (the earliest consistent point)';
    case 'time':
      return `time ${t.target}`;
    case 'lsn':
      return `LSN ${t.target}`;
    case 'xid':
      return `transaction ${t.target} (included)`;
    case 'name':
      return `restore point "${t.target}"`;
  }
}

// Settings that make a server follow another one; a recovered primary must not carry them, even
// commented back in by hand later (a backup taken from a standby holds its postgresql.auto.conf).
const STANDBY_SETTING = /^\s*(primary_conninfo|primary_slot_name)\s*=/;

/** postgresql.auto.conf with the standby settings commented out; the rest byte for byte. */
export function withoutStandbySettings(autoConf: string): string {
  return autoConf.split('\n').map((l) => (STANDBY_SETTING.test(l) ? `# ${l} # disabled by stanzactl recover: this server is the primary` : l)).join('\n');
}

/** Where a recover that failed left the cluster: its failure says what a DBA resumes from. */
export interface ResumeAdvice {
  /** Failed while stopping nodes: nothing restored yet. */
  readonly stopping: string;
  /** Failed while the primary was restored, started or promoted: its data directory is neither state. */
  readonly restoring: string;
  /** Failed after the primary accepted writes on the new timeline: standbys are left to rebuild. */
  readonly promoted: string;
}

export interface ResumeFacts {
  readonly stanza: string;
  readonly primary: string;
  readonly standbys: readonly string[];
  readonly timeline: number;
  readonly lsn: string;
  readonly backup: string;
  readonly target: string;
}

/**
 * The commands that bring a cluster back after a recover failed, as a DBA types them (sudo): the
 * standbys recover only stops before the primary's restore still hold the old timeline.
 */
export function resumeAdvice(pg: Spec['postgres'], f: ResumeFacts): ResumeAdvice {
  const sh = (c: Command) => `\`${describe(c, 'sudo')}\``;
  const start = sh(controlCommand(pg, 'start'));
  const standbys = f.standbys.join(', ');
  const plan = `The plan was: restore ${f.primary} from backup ${f.backup} to ${f.target}, from timeline ${f.timeline} (at LSN ${f.lsn} when planned).`;
  const startStandbys = f.standbys.length ? ` Then start ${standbys} with ${start} on each.` : '';
  const restoreOld = sh(asUser(pg.osUser, cmd('pgbackrest', `--stanza=${f.stanza}`, '--delta', '--type=default', `--target-timeline=${f.timeline}`, '--target-action=promote', 'restore')));
  return {
    stopping: `${plan} Nothing was restored: ${f.primary}'s data directory is as it was on timeline ${f.timeline}; nodes stopped so far stay stopped. ` +
      `To bring the cluster back as it was: start ${f.primary} with ${start} on it.${startStandbys} Or run the recover again.`,
    restoring: `${plan} ${f.primary} is stopped and its data directory was being restored over (--delta): it holds neither the old state nor the target; do not start it as it is. ` +
      `${f.standbys.length ? `${standbys} were only stopped: their data directories are untouched, on timeline ${f.timeline} up to where they stopped. ` : ''}` +
      `To bring the old timeline back on ${f.primary}: ${restoreOld} on it (the newest backup, replayed to the end of timeline ${f.timeline}'s archived WAL), then ${start}.${startStandbys} ` +
      `${f.standbys.length ? `Or start one of ${standbys} with ${start} and promote it (\`SELECT pg_promote()\`), and make it the spec's primary. ` : ''}` +
      `Why the recovery failed: ${f.primary}'s server log (${startupLogFile(pg)} until logging starts).`,
    promoted: `${plan} ${f.primary} was recovered and runs as the primary on a new timeline: the old one is gone from it (its WAL stays in the archive). ` +
      `${f.standbys.length ? `Rebuild each of ${standbys} that the step log does not show started: \`stanzactl rebuild --spec FILE --node NODE\`.` : ''}`,
  };
}
