import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProvision } from '../../src/client';
import type { SystemdLayout } from '../../dev/lab/types';
import type { Spec } from '../../src/spec/schema';
import { ProvisionFixture } from './fixture';
import { runCli } from './harness';
import { RecoverChecks } from './recover-checks';

const LONG = { timeout: 15 * 60_000 };

/**
 * PostgreSQL as production runs it: a systemd unit on hosts whose PID 1 is systemd. Every start,
 * stop, restart and reload goes through the unit, so systemd's view (ActiveState, MainPID) stays
 * the truth; a spec or a server that goes around the unit is refused, naming what was found.
 */
function systemdSuite(layout: SystemdLayout, prefix: string, subnet: string): void {
  describe(`workflows on systemd hosts (${layout})`, { timeout: 60 * 60_000 }, () => {
    const f = new ProvisionFixture(layout, prefix, subnet);
    const dir = mkdtempSync(join(tmpdir(), 'stanzactl-systemd-'));
    let spec!: Spec;
    let unit = '';
    const write = (s: Spec, name: string) => {
      const file = join(dir, name);
      writeFileSync(file, JSON.stringify(s));
      return file;
    };
    const cli = (...args: string[]) => runCli([...args, '--spec', join(dir, 'spec.json')], f.workerEnv);
    const sh = (host: string, script: string, ...args: string[]) => f.checks.sh(host, ['bash', '-c', script, 'x', ...args]);

    before(async () => {
      await f.setUp();
      const pg = f.spec.postgres;
      assert.equal(pg.control.type, 'systemd');
      unit = pg.control.type === 'systemd' ? pg.control.unit : '';
      const parent = pg.dataDir.replace(/\/[^/]+\/?$/, '');
      spec = { ...f.spec, drills: { host: f.scratch.ip, dataDir: `${parent}/drill`, port: pg.port + 1 } };
      write(spec, 'spec.json');
    });
    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      await f.teardown();
    });

    test('a spec that says pg_ctl for a data directory a unit manages is refused before anything changes', LONG, async () => {
      const byHand = write({ ...spec, postgres: { ...spec.postgres, control: { type: 'pg_ctl' } } }, 'pg_ctl.json');
      const before = await sh('pg1-srv', 'systemctl show -p MainPID --value "$1"; ls -A /etc/pgbackrest* 2>/dev/null | md5sum', unit);
      const r = await runCli(['provision', '--spec', byHand], f.workerEnv);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`(pg\\d-srv): systemd unit ${unit}\\.service \\((enabled, active|disabled, inactive)\\) manages \\1:${spec.postgres.dataDir}: pg_ctl \\(postgres.control\\) would start and stop it behind systemd's back. Set postgres.control to \\{type: systemd, unit: ${unit}\\}`));
      assert.equal(await sh('pg1-srv', 'systemctl show -p MainPID --value "$1"; ls -A /etc/pgbackrest* 2>/dev/null | md5sum', unit), before, 'nothing changed on the primary');
    });

    test('provision starts, enables and reloads every node through its unit', LONG, async () => {
      const r = await cli('provision');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      for (const n of spec.nodes) await f.checks.assertUnitRuns(n.name);
      // The cluster is the package's (initdb without data checksums), adopted as it is.
      await f.checks.assertHealthy('adopted');
      // A second provision changes nothing: systemd's view is what stanzactl reads.
      await f.checks.assertProvisionChangesNothing(async () => (await startProvision(f.client, f.spec)).result());
    });

    test('a server started with pg_ctl behind its unit\'s back: rebuild is refused, naming it; a unit that fails names its journal; then the rebuild goes through the unit', LONG, async () => {
      const pg = spec.postgres;
      await sh('pg3-srv', `systemctl stop "$1"; cd / && runuser -u "$2" -- "$3/pg_ctl" -D "$4" -l /tmp/by-hand.log -w start >/dev/null`, unit, pg.osUser, pg.binDir, pg.dataDir);
      try {
        const r = await cli('rebuild', '--node', 'pg3-srv', '--yes');
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, new RegExp(`PostgreSQL runs on pg3-srv:${pg.dataDir} \\(pid \\d+\\) outside systemd unit ${unit} \\(which systemd sees inactive\\): it was started behind systemd's back`));
      } finally {
        await sh('pg3-srv', 'cd / && runuser -u "$2" -- "$3/pg_ctl" -D "$4" -m fast -w stop >/dev/null; systemctl start "$1"', unit, pg.osUser, pg.binDir, pg.dataDir);
      }
      await f.checks.assertUnitRuns('pg3-srv');
      // A unit that will not start: the rebuild's start step fails with the unit's own journal.
      await sh('pg2-srv', 'install -d "/etc/systemd/system/$1.service.d"; printf "[Service]\\nExecStartPre=/bin/sh -c \'echo stanzactl-test: this unit refuses to start >&2; exit 1\'\\n" > "/etc/systemd/system/$1.service.d/zz-fail.conf"; systemctl daemon-reload', unit);
      try {
        const r = await cli('rebuild', '--node', 'pg2-srv', '--yes');
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, new RegExp(`pg2-srv: systemctl start ${unit} failed: .*\\nlast lines of journalctl -u ${unit}:[\\s\\S]*stanzactl-test: this unit refuses to start`));
      } finally {
        await sh('pg2-srv', 'rm -rf "/etc/systemd/system/$1.service.d/zz-fail.conf"; systemctl daemon-reload', unit);
      }
      const again = await cli('rebuild', '--node', 'pg2-srv', '--yes');
      assert.equal(again.code, 0, again.stdout + again.stderr);
      await f.checks.assertUnitRuns('pg2-srv');
      assert.deepEqual(await f.checks.streamingStandbys(), ['pg2-srv', 'pg3-srv']);
    });

    test('a backup, a restore --to and a drill on the scratch host: the copies run under pg_ctl, the host\'s unit untouched', LONG, async () => {
      const b = await cli('backup', '--type', 'incr');
      assert.equal(b.code, 0, b.stdout + b.stderr);
      const unitBefore = await sh(f.scratch.name, 'systemctl is-active "$1" || true; systemctl is-enabled "$1" || true', unit);
      const r = await cli('restore', '--to', f.scratch.ip, '--yes');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const d = await cli('drill');
      assert.equal(d.code, 0, d.stdout + d.stderr);
      assert.equal(await sh(f.scratch.name, 'systemctl is-active "$1" || true; systemctl is-enabled "$1" || true', unit), unitBefore, 'the scratch host\'s own unit was neither started nor enabled');
    });

    test('recover stops and starts every node through its unit', LONG, async () => {
      const r = new RecoverChecks(f.checks);
      const target = await r.tableThenDrop('undone', 2);
      const timeline = await r.primaryTimeline();
      const out = await cli('recover', '--type', 'time', '--target', target, '--yes');
      assert.equal(out.code, 0, out.stdout + out.stderr);
      assert.equal(await r.tableRows('undone'), '2');
      await r.assertOnNewTimeline(timeline);
      for (const n of spec.nodes) await f.checks.assertUnitRuns(n.name);
    });
  });
}

systemdSuite('systemd-pgdg', 'stua', '10.231.236.0/24');
systemdSuite('systemd-epas', 'stub', '10.231.237.0/24');
