import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { provisionedCluster, ProvisionFixture } from './fixture';
import { recoverWorkflowId, rehearsalWorkflowId } from '../../src/workflow-ids';
import { literally } from './harness';
import { recordHistory } from './history';
import { RecoverChecks } from './recover-checks';

const LONG = { timeout: 15 * 60_000 };

// Recover proves, while the cluster is up, that its target is reached and that every node it would
// overwrite is a standby; a recover that fails anyway says how to bring the old timeline back.
describe('recover proves its target and the standbys before it stops anything', { timeout: 50 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stpc', '10.231.213.0/24');
  // The scratch host takes the rehearsals (drills: section).
  const cli = provisionedCluster(f, (s) => ({ ...s, drills: { host: f.scratch.ip, dataDir: '/var/lib/postgresql/15/drill', port: 5433 } }));
  const drillDirEntries = async () => (await f.checks.sh(f.scratch.name, ['bash', '-c', 'ls -A /var/lib/postgresql/15/drill 2>/dev/null | wc -l; ss -ltn "sport = :5433" | tail -n +2 | wc -l'])).replace(/\s+/g, ' ').trim();
  let r!: RecoverChecks;
  before(() => (r = new RecoverChecks(f.checks)));

  /** Runs a recover that must be refused in its plan: nothing stopped or restored on any node. */
  async function refused(args: string[], message: RegExp): Promise<void> {
    const started = await r.startTimes();
    const restores = await r.allRestores();
    const out = await cli('recover', ...args, '--yes');
    assert.equal(out.code, 1, out.stdout + out.stderr);
    assert.match(out.stderr, message);
    assert.match(out.stderr, /Nothing was changed/);
    assert.deepEqual(await r.startTimes(), started, 'no node was stopped');
    assert.equal(await r.allRestores(), restores, 'no restore ran');
  }

  test('an xid 500,000 ahead, an aborted xid and a restore point that does not exist are refused in the plan: nothing stopped, nothing restored', LONG, async () => {
    const ahead = String(Number(await f.checks.psql('pg1-srv', 'SELECT txid_snapshot_xmax(txid_current_snapshot())')) + 500_000);
    await refused(['--type', 'xid', '--target', ahead], new RegExp(`transaction ${ahead} is not a committed transaction on pg1-srv \\(transaction ID ${ahead} is in the future\\)`));
    const pg = f.spec.postgres;
    const aborted = (await f.checks.sh('pg1-srv', [`${pg.binDir}/psql`, '-X', '-Atq', '-p', String(pg.port), '-d', 'postgres', '-c',
      'BEGIN; CREATE TABLE never(i int); SELECT txid_current(); ROLLBACK'], pg.osUser)).trim();
    await refused(['--type', 'xid', '--target', aborted], new RegExp(`transaction ${aborted} is not a committed transaction on pg1-srv \\(aborted\\)`));
    await refused(['--type', 'name', '--target', 'no_such_point'],
      /a recover to restore point "no_such_point" cannot reach it: restore point "no_such_point" is not in the WAL written since backup \d{8}-\d{6}F started/);
  });

  test('a committed xid and an existing restore point are planned from the backup before them; a rehearsed recover to the restore point brings the table back', LONG, async () => {
    await f.checks.psql('pg1-srv', 'CREATE TABLE by_xid AS SELECT g AS i FROM generate_series(1, 2) g');
    const xid = await r.creatingXid('by_xid');
    await f.checks.psql('pg1-srv', 'CREATE TABLE by_name AS SELECT g AS i FROM generate_series(1, 3) g');
    await f.checks.psql('pg1-srv', "SELECT pg_create_restore_point('before_drop')");
    await f.checks.psql('pg1-srv', 'DROP TABLE by_name');
    const plan = await cli('recover', '--type', 'xid', '--target', xid);
    assert.equal(plan.code, 2, plan.stdout + plan.stderr);
    assert.match(plan.stdout, new RegExp(`backup +\\d{8}-\\d{6}F \\(full, .*\\): the newest backup that ended before the commit of transaction ${xid} \\(found in the WAL at LSN [0-9A-F]+/[0-9A-F]+\\)`));
    assert.match(plan.stdout, /found +pg2-srv \(a standby, streaming\), pg3-srv \(a standby, streaming\)/);
    const timelineBefore = await r.primaryTimeline();
    const out = await cli('recover', '--type', 'name', '--target', 'before_drop', '--rehearse', '--yes');
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(out.stdout, /the newest backup that ended before restore point "before_drop" \(found in the WAL at LSN/);
    assert.match(out.stdout, new RegExp(`rehearsal first on ${literally(f.scratch.ip)}:/var/lib/postgresql/15/drill \\(port 5433\\)`));
    assert.match(out.stdout, new RegExp(`rehearsed on ${literally(f.scratch.ip)}: restore \\d+\\.\\d s, promoted after \\d+\\.\\d s`));
    assert.equal(await drillDirEntries(), '0 0', 'the rehearsal removed its copy and stopped its server');
    recordHistory(f.temporal.address, recoverWorkflowId(f.spec), 'recover-rehearsed');
    recordHistory(f.temporal.address, rehearsalWorkflowId(f.spec), 'rehearse');
    assert.equal(await r.tableRows('by_name'), '3', 'the dropped table is back with its rows');
    await r.assertOnNewTimeline(timelineBefore);
  });

  test('a standby promoted behind the spec\'s back makes recover refuse, naming it: nothing stopped, nothing restored', LONG, async () => {
    const target = await r.tableThenDrop('after_failover', 1);
    await f.checks.psql('pg3-srv', 'SELECT pg_promote()');
    while ((await f.checks.psql('pg3-srv', 'SELECT pg_is_in_recovery()')) !== 'f') await new Promise((res) => setTimeout(res, 200));
    await refused(['--type', 'time', '--target', target], /pg3-srv is a primary now: out of recovery on timeline \d+\. The spec calls it a standby of pg1-srv: recover would stop it and overwrite its data directory/);
    // Its writes are not wanted here: rebuild (which rebuilds a promoted standby nobody streams from) puts it back.
    const rebuilt = await cli('rebuild', '--node', 'pg3-srv', '--yes');
    assert.equal(rebuilt.code, 0, rebuilt.stdout + rebuilt.stderr);
  });

  test('a recover whose primary does not reach the target says where it left the cluster and how to bring the old timeline back', LONG, async () => {
    // A gap in the archive after the newest backup: the plan (a time target) cannot see it, the recovery stops at it.
    const info = JSON.parse(await f.checks.pgbackrest('info', '--output=json')) as { name: string; backup: { archive: { stop: string } }[] }[];
    const backups = info.find((s) => s.name === f.spec.stanza)!.backup;
    const stop = backups[backups.length - 1].archive.stop;
    await f.checks.psql('pg1-srv', 'CREATE TABLE kept_on_standbys AS SELECT 1 AS i');
    await f.checks.psql('pg1-srv', 'SELECT pg_switch_wal()');
    const target = await r.tableThenDrop('gap', 1);
    const seg = BigInt(`0x${stop.slice(16)}`) + 1n;
    const next = seg > 0xffn ? `${stop.slice(0, 8)}${(BigInt(`0x${stop.slice(8, 16)}`) + 1n).toString(16).toUpperCase().padStart(8, '0')}00000000`
      : `${stop.slice(0, 16)}${seg.toString(16).toUpperCase().padStart(8, '0')}`;
    await f.checks.sh('backup-srv', ['bash', '-c', 'find "$1/archive/$2" -name "$3-*" -print -delete | grep -q .', 'x', f.spec.repository.path, f.spec.stanza, next], f.spec.repository.user);
    const timeline = await r.primaryTimeline();

    // Rehearsed, the same recover stops at the gap on the scratch host: the cluster is not touched.
    const started = await r.startTimes();
    const restores = await r.allRestores();
    const rehearsed = await cli('recover', '--type', 'time', '--target', target, '--rehearse', '--yes');
    assert.equal(rehearsed.code, 1, rehearsed.stdout + rehearsed.stderr);
    assert.match(rehearsed.stderr, new RegExp(`the rehearsal on ${literally(f.scratch.ip)} did not reach time .*: [\\s\\S]*recovery ended before configured recovery target was reached`));
    assert.match(rehearsed.stderr, /Nothing of the cluster was stopped or changed: the recover was refused/);
    assert.deepEqual(await r.startTimes(), started, 'no node was stopped');
    assert.equal(await r.allRestores(), restores, 'no node was restored');
    assert.equal(await drillDirEntries(), '0 0', 'the rehearsal removed its copy');

    const out = await cli('recover', '--type', 'time', '--target', target, '--yes');
    assert.equal(out.code, 1, out.stdout + out.stderr);
    // The start step (whose server stops at once) or the wait for the promotion reports it.
    assert.match(out.stderr, /recovery ended before configured recovery target was reached|PostgreSQL stopped before it was promoted/);
    assert.match(out.stderr, /The plan was: restore pg1-srv from backup \S+ to time .*, from timeline \d+/);
    assert.match(out.stderr, /pg1-srv is stopped and its data directory was being restored over \(--delta\): it holds neither the old state nor the target; do not start it as it is/);
    assert.match(out.stderr, /pg2-srv, pg3-srv were only stopped: their data directories are untouched/);
    assert.match(out.stderr, new RegExp(`sudo -n -H -u postgres -- pgbackrest --stanza=${f.spec.stanza} --delta --type=default --target-timeline=${timeline} --target-action=promote restore`));
    assert.match(out.stderr, /Or start one of pg2-srv, pg3-srv with `cd \/ && sudo -n -- pg_ctlcluster 15 main start` and promote it/);
    // As the failure says: a standby started again holds the old timeline.
    await f.checks.sh('pg2-srv', ['pg_ctlcluster', '15', 'main', 'start']);
    assert.equal(await f.checks.psql('pg2-srv', 'SELECT pg_is_in_recovery()'), 't');
    assert.equal(await f.checks.psql('pg2-srv', 'SELECT count(*) FROM kept_on_standbys'), '1');
  });
});
