import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Spec } from '../../src/spec/schema';
import type { StatusReport } from '../../src/status/render';
import { ClusterChecks } from './cluster-checks';
import { provisionedCluster, ProvisionFixture } from './fixture';
import { until } from './harness';
import { recordHistory } from './history';
import { RecoverChecks } from './recover-checks';
import { drillWorkflowId, provisionWorkflowId, rebuildWorkflowId, recoverWorkflowId } from '../../src/workflow-ids';

const LONG = { timeout: 10 * 60_000 };

/**
 * A failover done by hand (the old primary stopped, a standby promoted) and a spec nobody edited:
 * every workflow must act on the primary the hosts show. The repository's config lists every node,
 * so pgBackRest finds the new primary itself; rebuild rejoins the old primary as a standby of the
 * new one (its primary_conninfo from the observed primary); a drill, a recover and a provision follow too.
 */
describe('roles moved by hand: backup, rebuild, drill, recover and provision follow the primary the hosts show, the spec unchanged', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stmv', '10.231.136.0/24');
  const cli = provisionedCluster(f, (s) => ({ ...s, drills: { host: f.scratch.ip, dataDir: '/var/lib/postgresql/15/drill', port: 5433 } }));
  const sh = (host: string, script: string) => f.checks.sh(host, ['bash', '-c', script]);
  // The cluster as it is after the failover: pg2-srv the primary.
  let moved: ClusterChecks;
  const addressOf = (name: string) => f.spec.nodes.find((n) => n.name === name)!.host!;
  const upstreamOf = (host: string) => f.checks.psql(host, "SELECT coalesce(sender_host, 'none') FROM pg_stat_wal_receiver");
  const conf = () => sh('backup-srv', 'cat /etc/pgbackrest.conf');
  let confAtProvision = '';

  test('the repository\'s config lists every node; a failover by hand: pg1-srv stopped, pg2-srv promoted', LONG, async () => {
    confAtProvision = await conf();
    recordHistory(f.temporal.address, provisionWorkflowId(f.spec), 'provision-every-node');
    assert.deepEqual([...confAtProvision.matchAll(/^pg(\d)-host=(.*)$/gm)].map((m) => m[2]), f.spec.nodes.map((n) => n.host));
    await sh('pg1-srv', 'pg_ctlcluster 15 main stop -m fast');
    await sh('pg2-srv', 'pg_ctlcluster 15 main promote');
    await until('pg2-srv to accept writes', async () => (await f.checks.psql('pg2-srv', 'SELECT pg_is_in_recovery()')) === 'f');
    const spec: Spec = { ...f.spec, nodes: f.spec.nodes.map((n) => ({ ...n, role: n.name === 'pg2-srv' ? 'primary' : 'standby' })) };
    moved = new ClusterChecks(f.lab, spec);
  });

  test('status shows pg2-srv as the primary and warns that the spec names pg1-srv', LONG, async () => {
    const r = await cli('status', '--json');
    const report = JSON.parse(r.stdout) as StatusReport;
    assert.equal(report.topology!.primary, 'pg2-srv');
    assert.match(report.warnings.join('\n'), /the spec names pg1-srv as the primary, but pg2-srv is: stanzactl acts on pg2-srv/);
  });

  test('a full backup goes through on pg2-srv\'s timeline, the repository\'s config untouched', LONG, async () => {
    const r = await cli('backup', '--type', 'full');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const info = JSON.parse(await f.checks.pgbackrest('info', '--output=json')) as { backup: { archive: { start: string } }[] }[];
    assert.match(info[0].backup.at(-1)!.archive.start, /^00000002/, 'the backup starts on the new timeline');
    assert.equal(await conf(), confAtProvision);
  });

  test('rebuild of pg1-srv, the old primary, rejoins it as a standby streaming from pg2-srv', LONG, async () => {
    const r = await cli('rebuild', '--node', 'pg1-srv', '--yes');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /PostgreSQL is not running/);
    // Stopped cleanly before pg2-srv was promoted, it forked from nothing: it starts as a standby, nothing copied.
    assert.match(r.stdout, /pg1-srv rebuilt: started as a standby as it was \(nothing forked\)/);
    assert.match(r.stdout, /why: pg_rewind finds nothing forked \(no rewind required\): pg2-srv has every record it wrote/);
    assert.equal(await f.checks.psql('pg1-srv', 'SELECT pg_is_in_recovery()'), 't');
    await until('pg1-srv to stream from pg2-srv', async () => (await upstreamOf('pg1-srv')) === addressOf('pg2-srv'));
    assert.match(await sh('pg1-srv', 'cat /var/lib/postgresql/15/main/postgresql.auto.conf'), new RegExp(`primary_conninfo = '[^']*host=${addressOf('pg2-srv').replace(/\./g, '\\.')}[ ']`));
    recordHistory(f.temporal.address, rebuildWorkflowId(f.spec, 'pg1-srv'), 'rebuild-roles-moved');
  });

  test('rebuild of pg3-srv, left behind on the old timeline, streams from pg2-srv; a row written there reaches both standbys', LONG, async () => {
    const r = await cli('rebuild', '--node', 'pg3-srv', '--yes');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // A standby (it may already follow the new timeline by itself), forked or not: the lab's
    // cluster is below the size where pg_rewind beats a restore.
    assert.match(r.stdout, /pg3-srv rebuilt: .*restore in/);
    assert.match(r.stdout, /why: (it is on the primary's timeline 2: nothing forked|pg_rewind finds nothing forked|forked at .*: below 1 GiB a delta restore is as fast)/);
    await until('pg3-srv to stream from pg2-srv', async () => (await upstreamOf('pg3-srv')) === addressOf('pg2-srv'));
    await moved.rowReplicates();
    assert.deepEqual(await moved.streamingStandbys(), ['pg1-srv', 'pg3-srv']);
  });

  test('rebuild of pg2-srv, the primary the hosts show, is refused though the spec calls it a standby', LONG, async () => {
    const r = await cli('rebuild', '--node', 'pg2-srv', '--yes');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pg2-srv is the primary of stanza demo: stanzactl never rebuilds the primary/);
    assert.equal(await f.checks.psql('pg2-srv', 'SELECT pg_is_in_recovery()'), 'f');
  });

  test('a drill writes its marker on pg2-srv and restores it', LONG, async () => {
    const r = await cli('drill');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /marker \(.*\): marker \S+ on pg2-srv/);
    recordHistory(f.temporal.address, drillWorkflowId(f.spec), 'drill-roles-moved');
  });

  test('a recover to a time before a DROP TABLE restores pg2-srv: the table is back, pg1-srv and pg3-srv stream from it on its new timeline', LONG, async () => {
    const recovered = new RecoverChecks(moved);
    const timelineBefore = await recovered.primaryTimeline();
    const target = await recovered.tableThenDrop('precious', 5);
    const r = await cli('recover', '--type', 'time', '--target', target, '--yes');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /primary +pg2-srv is stopped, restored from it/);
    assert.match(r.stdout, /spec +names pg1-srv as the primary, but pg2-srv runs as it \(a failover done by hand\)/);
    assert.match(r.stdout, /LOST +every transaction committed on pg2-srv after time /);
    assert.match(r.stdout, /standbys +pg1-srv, pg3-srv are stopped now and rebuilt/);
    assert.match(r.stdout, new RegExp(`stanza demo recovered to time .*: pg2-srv on timeline \\d+ \\(was ${timelineBefore}\\)`));
    assert.equal(await recovered.tableRows('precious'), '5', 'the dropped table is back with its rows');
    await recovered.assertOnNewTimeline(timelineBefore);
    for (const s of ['pg1-srv', 'pg3-srv']) assert.equal(await upstreamOf(s), addressOf('pg2-srv'), `${s} streams from pg2-srv`);
    recordHistory(f.temporal.address, recoverWorkflowId(f.spec), 'recover-roles-moved');
  });

  test('provision again, the spec unchanged, reads the roles, ensures the cluster on pg2-srv and changes nothing', LONG, async () => {
    const r = await cli('provision');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✓ ok +preflight \(/);
    assert.match(r.stdout, /stanza demo: already provisioned, nothing changed/);
    await moved.rowReplicates();
    assert.deepEqual(await moved.streamingStandbys(), ['pg1-srv', 'pg3-srv']);
    recordHistory(f.temporal.address, provisionWorkflowId(f.spec), 'provision-roles-moved');
  });
});
