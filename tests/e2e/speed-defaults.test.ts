import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProvision, type ProvisionResult } from '../../src/client';
import type { LabLayout } from '../../dev/lab';
import { PROCESS_MAX_CAP } from '../../src/render/pgbackrest-tuning';
import { TUNING_KEYS } from '../../src/spec/schema';
import type { StatusReport } from '../../src/status/render';
import { withoutTuning } from './cluster-checks';
import { ProvisionFixture } from './fixture';
import { runCli } from './harness';

const LONG = { timeout: 15 * 60_000 };


// A restore by --set into an empty directory beside the cluster, started on a port of its own
// without archiving (it must not push WAL into the stanza), promoted at consistency.
const RESTORE_PORT = '5499';
const RESTORE_AND_START = `set -eu
dir=$1; set_label=$2; bin=$3; stanza=$4
rm -rf "$dir"; mkdir -m 700 "$dir"
pgbackrest --stanza="$stanza" --set="$set_label" --pg1-path="$dir" --type=immediate --target-action=promote --archive-mode=off restore
# The Debian layout keeps these outside the data directory.
[ -e "$dir/postgresql.conf" ] || : > "$dir/postgresql.conf"
[ -e "$dir/pg_hba.conf" ] || echo 'local all all trust' > "$dir/pg_hba.conf"
"$bin/pg_ctl" -D "$dir" -l "$dir.log" -w -t 120 -o "-p ${RESTORE_PORT} -c listen_addresses='' -c unix_socket_directories=/tmp -c hot_standby=on" start`;
const STOP_AND_REMOVE = `set -eu
dir=$1; bin=$2
"$bin/pg_ctl" -D "$dir" -m fast -w stop || true
rm -rf "$dir" "$dir.log"`;

function speedDefaultsSuite(layout: LabLayout, prefix: string, subnet: string): void {
  describe(`speed defaults on the ${layout} layout`, { timeout: 40 * 60_000 }, () => {
    const f = new ProvisionFixture(layout, prefix, subnet);
    before(() => f.setUp());
    after(f.teardown);
    const pg = () => f.spec.postgres;
    const provision = async () => (await startProvision(f.client, f.spec)).result() as Promise<ProvisionResult>;
    const primary = () => f.spec.nodes.find((n) => n.role === 'primary')!.name;
    const tuned = new Set<string>(Object.values(TUNING_KEYS));
    const global = async (host: string) => Object.fromEntries((await f.checks.pgbackrestConf(host)).split('\n').map((l) => l.split('=', 2)).filter(([k]) => tuned.has(k)));
    const newestLabel = async () => {
      const info = JSON.parse(await f.checks.pgbackrest('info', '--output=json')) as { name: string; backup: { label: string }[] }[];
      return info.find((s) => s.name === f.spec.stanza)!.backup.at(-1)!.label;
    };
    // How the backup was stored, as its manifest records it (bundled files carry no extension).
    const storedWith = async (label: string) => {
      const manifest = await f.checks.sh('backup-srv', ['cat', `${f.spec.repository.path}/backup/${f.spec.stanza}/${label}/backup.manifest`], f.spec.repository.user);
      return ['option-compress-type', 'backup-bundle'].map((k) => new RegExp(`^${k}=(.*)$`, 'm').exec(manifest)?.[1] ?? 'absent').join(' ');
    };
    const started = async () => Promise.all(f.spec.nodes.map((n) => f.checks.psql(n.name, 'SELECT pg_postmaster_start_time()')));
    const status = async () => {
      const dir = mkdtempSync(join(tmpdir(), 'stanzactl-speed-'));
      try {
        writeFileSync(join(dir, 'spec.json'), JSON.stringify(f.spec));
        const cli = await runCli(['status', '--spec', join(dir, 'spec.json'), '--json'], f.workerEnv);
        return { ...cli, problems: cli.stdout.trim() ? (JSON.parse(cli.stdout) as StatusReport).problems.join('\n') : '' };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };

    test('provision writes the defaults; WAL is archived asynchronously through the spool path', LONG, async () => {
      await provision();
      const cores = Number((await f.checks.sh('backup-srv', ['nproc'])).trim());
      const processMax = String(Math.min(cores, PROCESS_MAX_CAP));
      assert.deepEqual(await global('backup-srv'), { 'compress-type': 'zst', 'process-max': processMax, 'repo1-bundle': 'y' });
      for (const n of f.spec.nodes) {
        assert.deepEqual(await global(n.name), {
          'compress-type': 'zst', 'process-max': processMax, 'archive-async': 'y', 'spool-path': '/var/spool/pgbackrest',
          'archive-push-queue-max': '4GiB', 'archive-get-queue-max': '1GiB',
        }, n.name);
        assert.equal((await f.checks.sh(n.name, ['stat', '-c', '%U %a', '/var/spool/pgbackrest'])).trim(), `${pg().osUser} 750`, n.name);
      }
      const wal = await f.checks.psql(primary(), 'SELECT pg_walfile_name(pg_current_wal_lsn())');
      await f.checks.pgbackrest('check');
      // The async archiver queues through the spool directory; the segment lands compressed with zst.
      await f.checks.sh(primary(), ['test', '-d', `/var/spool/pgbackrest/archive/${f.spec.stanza}/out`]);
      const archived = await f.checks.sh('backup-srv', ['find', `${f.spec.repository.path}/archive/${f.spec.stanza}`, '-name', `${wal}-*`]);
      assert.match(archived, /\.zst$/m, archived);
    });

    test('a cluster set up with the old settings converges without a restart; its gz backup and a new zst backup both restore by --set', LONG, async () => {
      await Promise.all(['backup-srv', ...f.spec.nodes.map((n) => n.name)].map(async (h) => f.checks.setPgbackrestConf(h, withoutTuning(await f.checks.pgbackrestConf(h)))));
      assert.deepEqual(await global('backup-srv'), {});
      await f.checks.psql(primary(), "CREATE TABLE speed_e2e (phase text); INSERT INTO speed_e2e VALUES ('old settings')");
      await f.checks.pgbackrest('--type=full', 'backup');
      const gz = await newestLabel();
      assert.equal(await storedWith(gz), '"gz" absent');

      const before = await started();
      const converged = await provision();
      assert.equal(converged.steps.find((s) => s.name === 'pgbackrest.conf')!.changed, true);
      assert.equal((await global(primary()))['archive-async'], 'y');
      assert.deepEqual(await started(), before, 'no PostgreSQL restarted');
      await f.checks.assertProvisionChangesNothing(provision);

      await f.checks.psql(primary(), "INSERT INTO speed_e2e VALUES ('new settings')");
      await f.checks.pgbackrest('--type=full', 'backup');
      const zst = await newestLabel();
      assert.equal(await storedWith(zst), '"zst" true');

      // Restored on a standby's host, into an empty directory, each backup by its label.
      const host = f.checks.standbys[0];
      for (const [label, phases] of [[gz, 'old settings'], [zst, 'new settings,old settings']] as const) {
        const dir = `${layout === 'debian' ? '/var/lib/postgresql' : '/var/lib/edb'}/restore-${label}`;
        try {
          await f.checks.sh(host, ['bash', '-c', RESTORE_AND_START, 'x', dir, label, pg().binDir, f.spec.stanza], pg().osUser);
          const sql = (q: string) => f.checks.sh(host, [`${pg().binDir}/psql`, '-X', '-At', '-h', '/tmp', '-p', RESTORE_PORT, '-d', 'postgres', '-c', q], pg().osUser);
          for (let i = 0; (await sql('SELECT pg_is_in_recovery()')).trim() === 't'; i++) {
            assert.ok(i < 240, `${label} still in recovery`);
            await new Promise((r) => setTimeout(r, 250));
          }
          assert.equal((await sql('SELECT string_agg(phase, \',\' ORDER BY phase) FROM speed_e2e')).trim(), phases, label);
        } finally {
          await f.checks.sh(host, ['bash', '-c', STOP_AND_REMOVE, 'x', dir, pg().binDir], pg().osUser);
        }
      }
    });

    if (layout !== 'debian') return;
    test('a dead repository: WAL past archive-push-queue-max is dropped, status says so; a backup after it closes the gap', LONG, async () => {
      const node = primary();
      const conf = await f.checks.pgbackrestConf(node);
      const keys = `${(await f.checks.sh('backup-srv', ['bash', '-c', 'getent passwd "$1" | cut -d: -f6', 'x', f.spec.repository.user])).trim()}/.ssh/authorized_keys`;
      const dropped = async () => (await f.checks.sh(node, ['bash', '-c', `cat /var/log/pgbackrest/${f.spec.stanza}-archive-push*.log`])).includes('dropped WAL file');
      // Two segments: the third one waiting is dropped.
      await f.checks.setPgbackrestConf(node, conf.replace(/^archive-push-queue-max=.*$/m, 'archive-push-queue-max=32MB'));
      // The repository host refuses the primary's logins: to pgBackRest there, a dead repository.
      await f.checks.sh('backup-srv', ['mv', keys, `${keys}.off`]);
      try {
        for (let i = 0; !(await dropped()); i++) {
          assert.ok(i < 120, 'pgBackRest dropped no WAL');
          await f.checks.psql(node, 'CREATE TABLE IF NOT EXISTS speed_e2e_wal (n int); INSERT INTO speed_e2e_wal SELECT generate_series(1, 1000); SELECT pg_switch_wal()');
          await new Promise((r) => setTimeout(r, 1000));
        }
        const cli = await status();
        assert.equal(cli.code, 1, cli.stdout + cli.stderr);
        assert.match(cli.problems, /^pgBackRest dropped WAL on the primary pg1-srv \(newest [0-9A-F]{24}, logged [0-9-]+ [0-9:.]+\): .* a gap after the start of the newest backup, \S+, and no recovery can cross it/m);
      } finally {
        await f.checks.sh('backup-srv', ['mv', `${keys}.off`, keys]);
        await f.checks.setPgbackrestConf(node, conf);
      }
      await f.checks.pgbackrest('--type=full', 'backup');
      assert.doesNotMatch((await status()).problems, /dropped WAL/);
    });
  });
}

speedDefaultsSuite('debian', 'stla', '10.231.191.0/24');
speedDefaultsSuite('edb', 'stlb', '10.231.192.0/24');
