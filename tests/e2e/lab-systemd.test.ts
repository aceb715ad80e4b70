import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { labExec, labSpec, labStatus, labUp, SYSTEMD_FLAVOURS } from '../../dev/lab';
import type { Lab } from '../../dev/lab';
import { labPaths } from '../../dev/lab/paths';
import { sleep } from '../../dev/lab/proc';
import { readRecord } from '../../dev/lab/record';
import { specSchema } from '../../src/spec/schema';
import { assertNothingLeft, downLeavesNothing, inHost, labFixture, run, sshArgs } from './lab-checks';
import { slotted } from './lab-slot';

// The systemd layouts: PostgreSQL hosts whose PID 1 is systemd (systemd-nspawn), the repository
// host on the small init. One lab at a time, so one prefix and subnet serve the whole file.
const { prefix: PREFIX, subnet: SUBNET } = slotted('stsy', '10.231.231.0/24');
const PG_HOSTS = ['pg1-srv', 'pg2-srv', 'pg3-srv', 'drill-srv'];
const notRoot = process.getuid?.() !== 0 && 'the lab needs root';

/** A command's exit code and trimmed output, for commands whose failure is the answer (is-active, is-enabled). */
async function probe(lab: Lab, host: string, argv: string[], user?: string): Promise<{ code: number; out: string }> {
  const r = await labExec(lab, host, argv, { user });
  return { code: r.code, out: (r.stdout + r.stderr).trim() };
}

for (const layout of ['systemd-epas', 'systemd-pgdg'] as const) {
  const f = SYSTEMD_FLAVOURS[layout];
  const sql = (lab: Lab, query: string) => inHost(lab, 'pg1-srv', ['psql', '-X', '-At', '-p', String(f.port), '-d', 'postgres', '-c', query], f.osUser);
  const portOpen = async (lab: Lab) => (await probe(lab, 'pg1-srv', ['bash', '-c', `echo > /dev/tcp/127.0.0.1/${f.port}`])).code === 0;

  describe(`lab, ${layout} layout`, { skip: notRoot }, () => {
    const fx = labFixture(layout, PREFIX, SUBNET);

    it('PostgreSQL hosts boot systemd as PID 1, reachable as root over SSH with the pinned host keys', async (t) => {
      t.diagnostic(`lab up (${layout}): ${fx.upMs} ms`);
      t.diagnostic(`pg1-srv: ${(await inHost(fx.lab, 'pg1-srv', ['systemd-analyze', 'time'])).split('\n')[0]}`);
      for (const host of PG_HOSTS) {
        assert.equal((await inHost(fx.lab, host, ['readlink', '/proc/1/exe'])).trim(), '/usr/lib/systemd/systemd', host);
        assert.deepEqual(await probe(fx.lab, host, ['systemctl', 'is-system-running']), { code: 0, out: 'running' }, host);
        assert.deepEqual(await probe(fx.lab, host, ['systemctl', 'is-active', 'ssh.service']), { code: 0, out: 'active' }, host);
        const overSsh = await run('ssh', sshArgs(fx.lab, fx.lab.hosts.find((h) => h.name === host)!.ip, 'echo $(hostname) $(ps -p 1 -o comm=) $(systemctl is-active ssh)'));
        assert.equal(overSsh.stdout.trim(), `${host} systemd active`);
      }
      assert.equal((await inHost(fx.lab, 'backup-srv', ['ps', '-p', '1', '-o', 'comm='])).trim(), 'bash');
      const ids = await Promise.all(PG_HOSTS.map((h) => inHost(fx.lab, h, ['cat', '/etc/machine-id'])));
      assert.equal(new Set(ids).size, PG_HOSTS.length, 'hosts share a machine-id');
    });

    it(`the primary runs ${f.unit} under systemd: active, enabled, MainPID the postmaster`, async () => {
      assert.deepEqual(await probe(fx.lab, 'pg1-srv', ['systemctl', 'is-active', f.unit]), { code: 0, out: 'active' });
      assert.deepEqual(await probe(fx.lab, 'pg1-srv', ['systemctl', 'is-enabled', f.unit]), { code: 0, out: 'enabled' });
      const mainPid = (await inHost(fx.lab, 'pg1-srv', ['systemctl', 'show', '-p', 'MainPID', '--value', f.unit])).trim();
      const pidFile = (await inHost(fx.lab, 'pg1-srv', ['head', '-1', `${f.dataDir}/postmaster.pid`], f.osUser)).trim();
      assert.equal(mainPid, pidFile);
      assert.match(await inHost(fx.lab, 'pg1-srv', [`${f.binDir}/pg_ctl`, 'status', '-D', f.dataDir], f.osUser), new RegExp(`server is running \\(PID: ${mainPid}\\)`));
      assert.equal((await inHost(fx.lab, 'pg1-srv', ['systemctl', 'show', '-p', 'Type,Environment', f.unit])).trim(), `Type=notify\nEnvironment=PGDATA=${f.dataDir} PG_OOM_ADJUST_FILE=/proc/self/oom_score_adj PG_OOM_ADJUST_VALUE=0`);
      assert.equal(await sql(fx.lab, 'SHOW data_directory'), `${f.dataDir}\n`);
      assert.equal(await sql(fx.lab, 'SHOW config_file'), `${f.dataDir}/postgresql.conf\n`);
      assert.equal(await sql(fx.lab, 'SHOW server_encoding'), 'UTF8\n');
      assert.equal((await labStatus({ stateDir: fx.stateDir })).hosts.find((h) => h.name === 'pg1-srv')?.postgres, true);
    });

    it('systemctl reload makes the server read its configuration again (SIGHUP to MainPID)', async () => {
      const mainPid = (await inHost(fx.lab, 'pg1-srv', ['systemctl', 'show', '-p', 'MainPID', '--value', f.unit])).trim();
      await sql(fx.lab, "ALTER SYSTEM SET work_mem = '7MB'");
      assert.equal(await sql(fx.lab, 'SHOW work_mem'), '4MB\n', 'ALTER SYSTEM applied before any reload');
      await inHost(fx.lab, 'pg1-srv', ['systemctl', 'reload', f.unit]);
      // The postmaster passes SIGHUP on to its backends asynchronously; each new session reads it.
      let seen = '';
      for (let i = 0; i < 50 && seen !== '7MB'; i++, await sleep(100)) seen = (await sql(fx.lab, 'SHOW work_mem')).trim();
      assert.equal(seen, '7MB');
      assert.equal((await inHost(fx.lab, 'pg1-srv', ['systemctl', 'show', '-p', 'MainPID', '--value', f.unit])).trim(), mainPid, 'reload restarted the server');
    });

    it('standbys and the scratch host have the unit installed, not enabled, and no cluster: the unit refuses to start', async () => {
      for (const host of ['pg2-srv', 'pg3-srv', 'drill-srv']) {
        assert.deepEqual(await probe(fx.lab, host, ['systemctl', 'is-enabled', f.unit]), { code: 1, out: 'disabled' }, host);
        assert.deepEqual(await probe(fx.lab, host, ['systemctl', 'is-active', f.unit]), { code: 3, out: 'inactive' }, host);
        const listing = await probe(fx.lab, host, ['ls', '-A', f.dataDir], f.osUser);
        // PGDG's package ships the data directory, empty; the EPAS-like one leaves it to initdb.
        assert.deepEqual(listing, layout === 'systemd-pgdg' ? { code: 0, out: '' } : { code: 2, out: `ls: cannot access '${f.dataDir}': No such file or directory` }, host);
        assert.equal((await inHost(fx.lab, host, ['getent', 'passwd', f.osUser])).split(':')[5], f.home, host);
        assert.equal((await inHost(fx.lab, host, ['cat', '/etc/default/locale'])).trim(), 'LANG=C.UTF-8');
        assert.equal((await inHost(fx.lab, host, ['pg_lsclusters', '--no-header'])).trim(), '', `${host} shows the machine's Debian cluster`);
      }
      assert.notEqual((await probe(fx.lab, 'pg2-srv', ['systemctl', 'start', f.unit])).code, 0);
      assert.match(await inHost(fx.lab, 'pg2-srv', ['journalctl', '-u', f.unit, '--no-pager']), /is missing or empty: initialize it with initdb/);
      assert.deepEqual(await probe(fx.lab, 'pg2-srv', ['systemctl', 'is-active', f.unit]), { code: 3, out: 'failed' });
    });

    it('units a database host does not run are masked', async () => {
      for (const unit of ['getty@tty1.service', 'console-getty.service', 'haproxy.service', 'postgresql.service', 'apt-daily.timer', 'man-db.timer']) {
        assert.deepEqual(await probe(fx.lab, 'pg3-srv', ['systemctl', 'is-enabled', unit]), { code: 1, out: 'masked' }, unit);
      }
      const running = await inHost(fx.lab, 'pg3-srv', ['systemctl', 'list-units', '--state=running', '--no-legend', '--plain', '--type=service']);
      // root's user manager lingers a few seconds after an SSH session of an earlier test.
      const services = running.trim().split('\n').map((l) => l.split(' ')[0]).filter((u) => !/^user@\d+\.service$/.test(u));
      assert.deepEqual(services.sort(), ['dbus.service', 'ssh.service', 'systemd-journald.service', 'systemd-logind.service']);
    });

    it('labSpec drives PostgreSQL through the unit', () => {
      const spec = specSchema.parse(labSpec(fx.lab));
      assert.deepEqual(spec.postgres, { version: 15, osUser: f.osUser, port: f.port, dataDir: f.dataDir, binDir: f.binDir, control: { type: 'systemd', unit: f.unit } });
      assert.deepEqual(spec.nodes.map((n) => [n.name, n.role]), [['pg1-srv', 'primary'], ['pg2-srv', 'standby'], ['pg3-srv', 'standby']]);
    });

    it('systemctl stop stops the server: inactive, port closed, no postmaster left', async () => {
      await inHost(fx.lab, 'pg1-srv', ['systemctl', 'stop', f.unit]);
      assert.deepEqual(await probe(fx.lab, 'pg1-srv', ['systemctl', 'is-active', f.unit]), { code: 3, out: 'inactive' });
      assert.equal(await portOpen(fx.lab), false, `port ${f.port} still open`);
      assert.equal((await labStatus({ stateDir: fx.stateDir })).hosts.find((h) => h.name === 'pg1-srv')?.postgres, false);
    });

    it('comes down leaving nothing', async (t) => {
      await downLeavesNothing(fx, PREFIX, (m) => t.diagnostic(m));
    });
  });
}

describe('lab, systemd layout, a boot that fails half-way', { skip: notRoot }, () => {
  it('is undone: labUp fails and leaves nothing', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stanzactl-lab-halfway-'));
    const pids = new Set<number>();
    try {
      const up = labUp({ layout: 'systemd-pgdg', prefix: PREFIX, subnet: SUBNET, stateDir });
      up.catch(() => undefined);
      // pg2-srv's systemd dies as soon as it is known, while the others still boot.
      let victim = 0;
      for (let i = 0; i < 600 && victim === 0; i++, await sleep(50)) {
        const rec = readRecord(labPaths(stateDir).record);
        for (const h of rec?.hosts ?? []) [h.initPid, h.launcherPid].filter((p) => p > 0).forEach((p) => pids.add(p));
        victim = rec?.hosts.find((h) => h.name === 'pg2-srv')?.initPid ?? 0;
      }
      assert.ok(victim > 0, "pg2-srv's systemd never appeared");
      process.kill(victim, 'SIGKILL');
      await assert.rejects(up, /pg2-srv: init stopped/);
      await assertNothingLeft(PREFIX, stateDir, [...pids]);
    } finally {
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
