import { Context } from '@temporalio/activity';
import { psqlCommand, statusCommand } from '../render/postgres-control';
import type { HostAddress } from '../remote/types';
import type { Spec } from '../spec/schema';
import { refuse } from '../host/failures';
import { reportProgress } from '../host/heartbeat';
import type { HostOps } from '../host/host-ops';
import type { StepResult } from './types';

export interface Promotion extends StepResult {
  readonly timeline: number;
  readonly lsn: string;
}

// The current WAL file names the timeline; pg_current_wal_lsn() fails during recovery, hence the CASE.
const STATE_SQL = "SELECT CASE WHEN pg_is_in_recovery() THEN 'recovery' ELSE pg_walfile_name(pg_current_wal_lsn()) || ' ' || pg_current_wal_lsn() END";

// A server that recovery stopped (its target not reached) stays down; a few polls tell it from a start in progress.
const DOWN_POLLS = 5;

/**
 * Waits until a server that recovers to a target with promotion accepts writes on a timeline after
 * `afterTimeline`, and reports that timeline. A server that stops meanwhile failed its recovery:
 * refused (non-retryable), since starting it again would fail the same way.
 */
export async function waitAcceptingWrites(ops: HostOps, host: HostAddress, pg: Spec['postgres'], afterTimeline: number): Promise<Promotion> {
  const ctx = Context.current();
  let down = 0;
  for (;;) {
    const r = await ops.run(host, psqlCommand(pg, STATE_SQL));
    const state = r.code === 0 ? r.stdout.trim() : 'not accepting connections';
    const [walFile, lsn] = state.split(' ');
    const timeline = /^[0-9A-F]{24}$/.test(walFile) ? parseInt(walFile.slice(0, 8), 16) : 0;
    if (timeline > afterTimeline) {
      // A promotion checkpoints later, in the background: until then pg_control names the timeline
      // the node last checkpointed on, and a backup taken now fails pgBackRest's check of the two.
      await ops.must(host, psqlCommand(pg, 'CHECKPOINT'));
      return { changed: false, timeline, lsn, detail: `${host.name} accepts writes on timeline ${timeline} (was ${afterTimeline}), at LSN ${lsn}` };
    }
    down = r.code !== 0 && (await ops.run(host, statusCommand(pg))).code !== 0 ? down + 1 : 0;
    if (down >= DOWN_POLLS) {
      throw refuse(`${host.name}: PostgreSQL stopped before it was promoted: its recovery did not reach the target ` +
        '(is the WAL up to the target archived? is the target after the backup?). Its server log says why', 'RecoveryFailed');
    }
    reportProgress({ node: host.name, state });
    await ctx.sleep(1000);
  }
}
