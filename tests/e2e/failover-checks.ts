import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { labSetLink, type LabLayout } from '../../dev/lab';
import { controlCommand } from '../../src/render/postgres-control';
import { toShellLine } from '../../src/shell/command';
import { failoverWorkflowId, rebuildWorkflowId } from '../../src/workflow-ids';
import { provisionedCluster, ProvisionFixture } from './fixture';
import { until } from './harness';
import { recordHistory } from './history';
import { leaks } from './leaks';

const LONG = { timeout: 10 * 60_000 };

/**
 * Failover: refused while the old primary runs as one; with it dead and cut off, the most advanced
 * standby promoted and the other following it; the old primary, back, refused as a failover target,
 * rejoined by rebuild (pg_rewind undoes what only it wrote); then `--fence stop` on a primary
 * that still runs: stopped, and it comes back only as a standby.
 */
export function failoverTests(layout: LabLayout, [prefix, subnet]: [string, string], record: boolean): void {
  describe(`failover on the ${layout} layout: fenced, the most advanced standby promoted, the old primary rejoined`, { timeout: 40 * 60_000 }, () => {
    const f = new ProvisionFixture(layout, prefix, subnet);
    const cli = provisionedCluster(f);
    const psql = (host: string, sql: string) => f.checks.psql(host, sql);
    const sh = (host: string, script: string) => f.checks.sh(host, ['bash', '-c', script]);
    const addressOf = (name: string) => f.spec.nodes.find((n) => n.name === name)!.host!;
    const upstreamOf = (host: string) => psql(host, "SELECT coalesce((SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming'), 'none')");
    const primaries = async (hosts: string[]) => (await Promise.all(hosts.map(async (h) => ((await psql(h, 'SELECT pg_is_in_recovery()').catch(() => 'down')) === 'f' ? [h] : [])))).flat();
    const killPostgres = (host: string) => sh(host, `kill -9 "$(head -1 ${f.spec.postgres.dataDir}/postmaster.pid)"`);

    test('refused while pg1-srv answers as the primary: nothing changed', LONG, async () => {
      const r = await cli('failover', '--yes');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /pg1-srv answers and runs as the primary: that is a switchover/);
      assert.deepEqual(await primaries(['pg1-srv', 'pg2-srv', 'pg3-srv']), ['pg1-srv']);
    });

    test('pg1-srv killed and cut off, pg2-srv behind: pg3-srv (the most advanced) is promoted, pg2-srv follows it', LONG, async () => {
      // pg2-srv stops receiving (a socket directory that does not exist), then pg3-srv gets rows it never has.
      await psql('pg2-srv', "ALTER SYSTEM SET primary_conninfo = 'host=/nonexistent'");
      await psql('pg2-srv', 'SELECT pg_reload_conf()');
      await until('pg2-srv to stop streaming', async () => (await upstreamOf('pg2-srv')) === 'none');
      await psql('pg1-srv', 'CREATE TABLE failover_rows (id int); INSERT INTO failover_rows VALUES (1)');
      await until('pg3-srv to have the row', async () => (await psql('pg3-srv', "SELECT count(*) FROM pg_class WHERE relname = 'failover_rows'")) === '1');
      // Cut off, pg1-srv still commits a row nobody receives (its timeline forks from the one pg3-srv promotes), then dies.
      await labSetLink(f.lab, 'pg1-srv', false);
      await psql('pg1-srv', 'INSERT INTO failover_rows VALUES (2)');
      await killPostgres('pg1-srv');
      const r = await cli('failover', '--yes');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /old +pg1-srv \(unreachable\) is unreachable: it cannot be fenced/);
      assert.match(r.stdout, /LOST +pg1-srv is unreachable: what it wrote after \S+, the most pg3-srv received/);
      assert.match(r.stdout, /failover of stanza demo done: pg3-srv is the primary on timeline 2 \(was 1\)/);
      assert.deepEqual(await primaries(['pg2-srv', 'pg3-srv']), ['pg3-srv']);
      assert.equal(await upstreamOf('pg2-srv'), addressOf('pg3-srv'));
      assert.equal(await psql('pg2-srv', 'SELECT count(*) FROM failover_rows'), '1', 'pg2-srv follows pg3-srv\'s timeline, the row pg3-srv had included');
      const history = await f.client.workflow.getHandle(failoverWorkflowId(f.spec)).fetchHistory();
      assert.ok(!leaks(history, f.workerEnv.STANZACTL_SECRET_REPLICATION_PASSWORD), 'the replication password (written to .pgpass by the failover) is in no event of its history');
      if (record) recordHistory(f.temporal.address, failoverWorkflowId(f.spec), 'failover');
    });

    test('pg1-srv back: failover refuses it as a target, rebuild rejoins it by pg_rewind, provision then changes no role', LONG, async () => {
      await labSetLink(f.lab, 'pg1-srv', true);
      const refused = await cli('failover', '--to', 'pg1-srv', '--yes');
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /pg3-srv answers and runs as the primary/);
      const restores = await f.checks.pgbackrestBegins('pg1-srv', 'restore');
      // The lab's cluster is below the size where pg_rewind beats a restore by itself: asked for.
      const r = await cli('rebuild', '--node', 'pg1-srv', '--yes', '--method', 'rewind');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      // Killed, it had to be recovered first; then pg_rewind undid the row nobody received.
      assert.match(r.stdout, /pg1-srv was not shut down cleanly: crash recovery in single-user mode/);
      assert.match(r.stdout, /pg1-srv rebuilt: rewound by pg_rewind in [\d.]+ s/);
      assert.match(r.stdout, /why: forked at \S+ on timeline 1; pg_rewind would copy \d+ MB of \d+ MB from pg3-srv \(--method rewind\)/);
      assert.equal(await f.checks.pgbackrestBegins('pg1-srv', 'restore'), restores, 'no pgBackRest restore on pg1-srv');
      const history = await f.client.workflow.getHandle(rebuildWorkflowId(f.spec, 'pg1-srv')).fetchHistory();
      assert.ok(!leaks(history, f.workerEnv.STANZACTL_SECRET_REPLICATION_PASSWORD), 'the password (pg_rewind\'s role, its .pgpass line) is in no event of the rejoin\'s history');
      if (record) recordHistory(f.temporal.address, rebuildWorkflowId(f.spec, 'pg1-srv'), 'rebuild-rewind');
      assert.equal(await upstreamOf('pg1-srv'), addressOf('pg3-srv'));
      assert.equal(await psql('pg1-srv', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM failover_rows'), '1', 'the row only pg1-srv had is gone with its fork');
      assert.equal(await sh('pg1-srv', `ls ${f.spec.postgres.dataDir} | grep -c signal || true`).then((s) => s.trim()), '1', 'standby.signal, nothing set aside left behind');
      const p = await cli('provision');
      assert.equal(p.code, 0, p.stdout + p.stderr);
      assert.deepEqual(await primaries(['pg1-srv', 'pg2-srv', 'pg3-srv']), ['pg3-srv'], 'never two primaries');
      assert.equal(await f.checks.pgbackrestBegins('pg1-srv', 'restore'), restores, 'provision left pg1-srv, streaming, alone');
    });

    test('--fence stop: pg3-srv, running as the primary, stopped and fenced; started as its service would, it is a standby', LONG, async () => {
      const refused = await cli('failover', '--yes');
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      const r = await cli('failover', '--fence', 'stop', '--yes');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /pg3-srv fenced: stopped it at its shutdown checkpoint \S+; wrote standby\.signal/);
      const [now] = await primaries(['pg1-srv', 'pg2-srv']);
      assert.ok(now, 'one of pg1-srv, pg2-srv is the primary');
      await sh('pg3-srv', toShellLine(controlCommand(f.spec.postgres, 'start'), 'root'));
      assert.equal(await psql('pg3-srv', 'SELECT pg_is_in_recovery()'), 't', 'pg3-srv came back in recovery, not as a primary');
      assert.deepEqual(await primaries(['pg1-srv', 'pg2-srv', 'pg3-srv']), [now]);
    });
  });
}
