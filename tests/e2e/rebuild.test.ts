import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { TASK_QUEUE } from '../../src/paths';
import { rebuildWorkflowId } from '../../src/workflow-ids';
import type { RebuildResult } from '../../src/workflows/rebuild';
import { provisionedCluster, ProvisionFixture } from './fixture';
import { confirmedRebuild } from './confirmed';
import { literally } from './harness';
import { recordHistory } from './history';

const LONG = { timeout: 10 * 60_000 };
const DATA = '/var/lib/postgresql/15/main';

describe('rebuild a failed standby', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stzr', '10.231.71.0/24');
  const cli = provisionedCluster(f);
  const sh = (host: string, script: string, user?: string) => f.checks.sh(host, ['bash', '-c', script], user);
  const restores = async (host: string) => (await sh(host, `cat /var/log/pgbackrest/demo-restore.log 2>/dev/null || true`)).match(/restore command begin/g)?.length ?? 0;
  const started = (host: string) => f.checks.psql(host, 'SELECT pg_postmaster_start_time()');

  /** Damages pg2-srv, rebuilds it, and checks it streams a new row while pg3-srv was left alone. */
  async function damageAndRebuild(damage: string, expectBroken: RegExp, user?: string): Promise<string> {
    const pg3Started = await started('pg3-srv');
    const pg3Restores = await restores('pg3-srv');
    await sh('pg2-srv', damage, user);
    const r = await cli('rebuild', '--node', 'pg2-srv', '--yes');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, expectBroken);
    assert.match(r.stdout, /pg2-srv rebuilt: .*restore in [\d.]+ s/);
    // A standby of the primary's own timeline forked from nothing: pg_rewind is no way back for it.
    assert.match(r.stdout, /why: (it is on the primary's timeline \d+: nothing forked|it has no pg_control: there is no data directory of this cluster|its pg_control says "|the archive holds a timeline newer than the primary's: only a restore follows timeline \d+)/);
    await f.checks.rowReplicates();
    assert.deepEqual(await f.checks.streamingStandbys(), ['pg2-srv', 'pg3-srv']);
    assert.equal(await started('pg3-srv'), pg3Started, 'pg3-srv was not restarted');
    assert.equal(await restores('pg3-srv'), pg3Restores, 'pg3-srv was not restored');
    return r.stdout;
  }

  test('data directory deleted', LONG, async () => {
    const out = await damageAndRebuild(`pg_ctlcluster 15 main stop -m immediate && rm -rf ${DATA}`, /data directory .* is missing/);
    assert.match(out, /pg2-srv rebuilt: restore in/, 'a plain restore: there was nothing for a delta');
  });

  test('global/pg_control and WAL removed (the seed\'s kind of damage)', LONG, async () => {
    const out = await damageAndRebuild(`pg_ctlcluster 15 main stop -m immediate && rm -f ${DATA}/global/pg_control && rm -rf ${DATA}/pg_wal/*`, /global\/pg_control is missing/);
    assert.match(out, /pg2-srv rebuilt: delta \(by checksum\) restore in/);
  });

  test('standby promoted by mistake (a forked timeline)', LONG, async () => {
    await damageAndRebuild(
      `pg_ctlcluster 15 main promote && for i in $(seq 1 50); do [ "$(runuser -u postgres -- psql -XAtc 'SELECT pg_is_in_recovery()')" = f ] && break; sleep 0.2; done
       runuser -u postgres -- psql -Xc 'CREATE TABLE forked (i int); SELECT pg_switch_wal()' >/dev/null`,
      /promoted: out of recovery/);
    assert.equal(await f.checks.psql('pg2-srv', "SELECT count(*) FROM pg_class WHERE relname = 'forked'"), '0', 'the fork is gone');
  });

  test('config and .pgpass deleted', LONG, async () => {
    await damageAndRebuild('pg_ctlcluster 15 main stop && rm -rf /etc/postgresql/15/main /var/lib/postgresql/.pgpass', /config \/etc\/postgresql\/15\/main is missing; ~\/.pgpass is missing/);
  });

  test('a stopped standby, rebuilt with --delta-by timestamp', LONG, async () => {
    const pg2Restores = await restores('pg2-srv');
    await sh('pg2-srv', 'pg_ctlcluster 15 main stop');
    const r = await cli('rebuild', '--node', 'pg2-srv', '--yes', '--delta-by', 'timestamp');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /PostgreSQL is not running/);
    assert.match(r.stdout, /pg2-srv rebuilt: delta \(by timestamp\) restore in/);
    assert.equal(await restores('pg2-srv'), pg2Restores + 1);
    await f.checks.rowReplicates();
  });

  test('rebuild named at the primary is refused and changes nothing', LONG, async () => {
    const before = await started('pg1-srv');
    const r = await cli('rebuild', '--node', 'pg1-srv', '--yes');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pg1-srv is the primary of stanza demo: stanzactl never rebuilds the primary/);
    assert.equal(await started('pg1-srv'), before);
    assert.equal(await f.checks.psql('pg1-srv', 'SELECT pg_is_in_recovery()'), 'f');
  });

  test('without --yes and without a terminal it refuses to start', LONG, async () => {
    const r = await cli('rebuild', '--node', 'pg2-srv');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pass --yes/);
  });

  test('a second rebuild of the same node is refused and names the running one; a worker crash mid-restore is survived with one restore', LONG, async () => {
    const pg2Restores = await restores('pg2-srv');
    const handle = await f.client.workflow.start('rebuildStandby', {
      taskQueue: TASK_QUEUE, workflowId: rebuildWorkflowId(f.spec, 'pg2-srv'), args: [f.spec, 'pg2-srv', { confirm: confirmedRebuild(f.spec, 'pg2-srv') }], workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    });
    const second = await cli('rebuild', '--node', 'pg2-srv', '--yes');
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`a rebuild of pg2-srv is already running: workflow ${literally(rebuildWorkflowId(f.spec, 'pg2-srv'))}`));

    let open = true;
    handle.result().finally(() => (open = false)).catch(() => undefined);
    await f.runStarted('pg2-srv', handle.firstExecutionRunId, 'restoreStandby', () => open);
    await f.crashWorker();
    const r = (await handle.result()) as RebuildResult;
    assert.equal(r.node, 'pg2-srv');
    assert.equal(await restores('pg2-srv'), pg2Restores + 1, 'one restore ran');
    recordHistory(f.temporal.address, handle.workflowId, 'rebuild');
    await f.checks.rowReplicates();
  });
});
