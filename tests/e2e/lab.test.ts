import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { labExec, labSetLink, labSpec, labStatus, labUp } from '../../dev/lab';
import type { Lab } from '../../dev/lab';
import { specSchema } from '../../src/spec/schema';
import { downLeavesNothing, hostIp, inHost, labFixture, run, sshArgs } from './lab-checks';
import { slotted } from './lab-slot';

// Apart from the default lab (stz, 10.231.7.0/24) so a demo lab may run at the same time.
const { prefix: PREFIX, subnet: SUBNET } = slotted('stzt', '10.231.9.0/24');
const OTHER = slotted('stzu', '10.231.10.0/24');
const HOSTS = ['backup-srv', 'pg1-srv', 'pg2-srv', 'pg3-srv', 'drill-srv'];
// The scratch host drill-srv is installed like the nodes (not a node of the spec).
const PG_HOSTS = HOSTS.slice(1);

function knownKey(lab: Lab, name: string): string {
  const line = fs.readFileSync(lab.knownHostsFile, 'utf8').split('\n').find((l) => l.startsWith(`${name},`));
  assert.ok(line, `${name} missing from known_hosts`);
  return line.split(' ').slice(1).join(' ');
}

const notRoot = process.getuid?.() !== 0 && 'the lab needs root';

describe('lab, debian layout', { skip: notRoot }, () => {
  const fx = labFixture('debian', PREFIX, SUBNET);

  it('each host answers over SSH with its own name and its own pinned host key', async (t) => {
    t.diagnostic(`lab up (debian): ${fx.upMs} ms`);
    const names = await Promise.all(fx.lab.hosts.map(async (h) => (await run('ssh', sshArgs(fx.lab, h.ip, 'hostname'))).stdout.trim()));
    assert.deepEqual(names, HOSTS);
    const keys = HOSTS.map((n) => knownKey(fx.lab, n));
    assert.equal(new Set(keys).size, HOSTS.length, 'hosts share a host key');
    const machineKey = fs.readFileSync('/etc/ssh/ssh_host_ed25519_key.pub', 'utf8').split(' ').slice(0, 2).join(' ');
    assert.ok(!keys.includes(machineKey), "a host kept the machine's own host key");
  });

  it('hosts look like fresh installs: no cluster, pgBackRest 2.45, Debian owners and modes', async () => {
    for (const host of HOSTS) {
      const clusters = (await inHost(fx.lab, host, ['pg_lsclusters', '--no-header'])).trim();
      assert.equal(clusters, '', `${host} has clusters: ${clusters}`);
      assert.equal((await inHost(fx.lab, host, ['pgbackrest', 'version'], 'postgres')).trim(), 'pgBackRest 2.45');
      assert.equal((await inHost(fx.lab, host, ['cat', '/etc/default/locale'])).trim(), 'LANG=C.UTF-8');
      assert.equal((await inHost(fx.lab, host, ['cat', '/etc/hostname'])).trim(), host);
      assert.doesNotMatch(await inHost(fx.lab, host, ['ip', 'route']), /default/);
    }
    const modes = await inHost(fx.lab, 'pg1-srv', ['stat', '-c', '%n %U:%G %a',
      '/var/lib/postgresql', '/etc/postgresql', '/var/log/postgresql', '/var/lib/pgbackrest', '/var/log/pgbackrest',
      '/var/spool/pgbackrest', '/run/postgresql', '/run/sshd', '/root', '/home', '/tmp']);
    assert.deepEqual(modes.trim().split('\n'), [
      '/var/lib/postgresql postgres:postgres 755', '/etc/postgresql postgres:postgres 755', '/var/log/postgresql root:postgres 1775',
      '/var/lib/pgbackrest postgres:postgres 750', '/var/log/pgbackrest postgres:postgres 750', '/var/spool/pgbackrest postgres:postgres 750',
      '/run/postgresql postgres:postgres 2775', '/run/sshd root:root 755', '/root root:root 700', '/home root:root 755', '/tmp root:root 1777',
    ]);
    const ids = await Promise.all(HOSTS.map((h) => inHost(fx.lab, h, ['cat', '/etc/machine-id'])));
    assert.equal(new Set(ids).size, HOSTS.length, 'hosts share a machine-id');
  });

  it('hosts reach each other by name, with the keys the operator pinned', async () => {
    const scanned = await inHost(fx.lab, 'pg1-srv', ['ssh-keyscan', '-t', 'ed25519', 'backup-srv']);
    assert.equal(scanned.trim().split(' ').slice(1).join(' '), knownKey(fx.lab, 'backup-srv'));
    await inHost(fx.lab, 'backup-srv', ['bash', '-c', 'echo > /dev/tcp/pg3-srv/22']);
    await inHost(fx.lab, 'drill-srv', ['bash', '-c', 'echo > /dev/tcp/backup-srv/22']);
  });

  it('processes are private to each host', async () => {
    const ps = (await inHost(fx.lab, 'pg1-srv', ['ps', '-e', '-o', 'pid=,comm='])).trim().split('\n').map((l) => l.trim().split(/\s+/));
    assert.deepEqual(ps.find(([pid]) => pid === '1'), ['1', 'bash']);
    assert.equal(ps.filter(([, comm]) => comm === 'sshd').length, 1, "pg1-srv sees another host's sshd");
    assert.notEqual(os.hostname(), 'pg1-srv');
  });

  it('labSetLink cuts a host off and reconnects it', async () => {
    const probe = ['timeout', '2', 'bash', '-c', 'echo > /dev/tcp/pg2-srv/22'];
    await labSetLink(fx.lab, 'pg2-srv', false);
    try {
      assert.notEqual((await labExec(fx.lab, 'pg1-srv', probe)).code, 0, 'pg2-srv still reachable');
      const st = await labStatus({ stateDir: fx.stateDir });
      assert.equal(st.hosts.find((h) => h.name === 'pg2-srv')?.sshd, false);
    } finally {
      await labSetLink(fx.lab, 'pg2-srv', true);
    }
    assert.equal((await labExec(fx.lab, 'pg1-srv', probe)).code, 0, 'pg2-srv not reachable after reconnecting');
  });

  it('status reports the lab; up again returns it unchanged', async () => {
    const st = await labStatus({ stateDir: fx.stateDir });
    assert.equal(st.up, true);
    assert.deepEqual(st.hosts.map((h) => [h.name, h.sshd, h.postgres]), HOSTS.map((n) => [n, true, false]));
    const again = await labUp({ stateDir: fx.stateDir });
    assert.deepEqual(again, fx.lab);
    await assert.rejects(labUp({ stateDir: fx.stateDir, layout: 'edb' }), /already up .* layout debian/);
  });

  it('labSpec is a valid spec for the Debian layout', () => {
    const spec = specSchema.parse(labSpec(fx.lab));
    assert.equal(spec.repository.host, hostIp(fx.lab, 'backup-srv'));
    assert.deepEqual(spec.nodes, [
      { name: 'pg1-srv', host: hostIp(fx.lab, 'pg1-srv'), role: 'primary' },
      { name: 'pg2-srv', host: hostIp(fx.lab, 'pg2-srv'), role: 'standby' },
      { name: 'pg3-srv', host: hostIp(fx.lab, 'pg3-srv'), role: 'standby' },
    ]);
    assert.ok(!JSON.stringify(spec).includes(hostIp(fx.lab, 'drill-srv')), 'the scratch host is in the spec');
    assert.equal(spec.postgres.osUser, 'postgres');
    assert.deepEqual(spec.postgres.control, { type: 'pg_ctlcluster', cluster: 'main' });
    assert.equal(spec.ssh.knownHostsFile, fx.lab.knownHostsFile);
  });

  it('refuses a second lab on a subnet or names in use, creating nothing', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'stanzactl-lab-other-'));
    try {
      await assert.rejects(labUp({ prefix: OTHER.prefix, subnet: SUBNET, stateDir: other }), new RegExp(`subnet ${SUBNET.replace(/[./]/g, '\\$&')} is already in use`));
      await assert.rejects(labUp({ prefix: PREFIX, subnet: OTHER.subnet, stateDir: other }), new RegExp(`already exist: ${PREFIX}-br0`));
      await assert.rejects(labUp({ prefix: OTHER.prefix, subnet: '8.8.8.0/24', stateDir: other }), /not in private address space/);
      assert.deepEqual(fs.readdirSync(other), []);
      assert.doesNotMatch((await run('ip', ['-o', 'link', 'show'])).stdout, new RegExp(`${OTHER.prefix}-`));
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('comes down leaving nothing', async (t) => {
    await downLeavesNothing(fx, PREFIX, (m) => t.diagnostic(m));
  });
});

describe('lab, edb layout', { skip: notRoot }, () => {
  const fx = labFixture('edb', PREFIX, SUBNET);

  it('pg hosts have the enterprisedb user and an empty as15 directory', async (t) => {
    t.diagnostic(`lab up (edb): ${fx.upMs} ms`);
    for (const host of PG_HOSTS) {
      assert.match(await inHost(fx.lab, host, ['id', 'enterprisedb']), /\(enterprisedb\) groups=\d+\(enterprisedb\),\d+\(postgres\)/);
      assert.equal((await inHost(fx.lab, host, ['getent', 'passwd', 'enterprisedb'])).trim().split(':')[5], '/var/lib/edb');
      assert.equal((await inHost(fx.lab, host, ['stat', '-c', '%U:%G %a', '/var/lib/edb/as15'])).trim(), 'enterprisedb:enterprisedb 700');
      assert.notEqual((await labExec(fx.lab, host, ['test', '-e', '/var/lib/edb/as15/data'])).code, 0, 'data dir must not exist');
      // Its socket goes into Debian's socket directory.
      await inHost(fx.lab, host, ['touch', '/var/run/postgresql/.s.probe'], 'enterprisedb');
      assert.equal((await inHost(fx.lab, host, ['stat', '-c', '%U:%G %a', '/var/lib/pgbackrest'])).trim(), 'postgres:postgres 750');
    }
    assert.notEqual((await labExec(fx.lab, 'backup-srv', ['id', 'enterprisedb'])).code, 0, 'backup-srv must not have enterprisedb');
    const names = await Promise.all(fx.lab.hosts.map(async (h) => (await run('ssh', sshArgs(fx.lab, h.ip, 'hostname'))).stdout.trim()));
    assert.deepEqual(names, HOSTS);
  });

  it('labSpec is a valid spec for the EDB layout', () => {
    const spec = specSchema.parse(labSpec(fx.lab));
    assert.deepEqual(spec.postgres, {
      version: 15, osUser: 'enterprisedb', port: 5444, dataDir: '/var/lib/edb/as15/data', binDir: '/usr/lib/postgresql/15/bin', control: { type: 'pg_ctl' },
    });
  });

  it('comes down leaving nothing', async (t) => {
    await downLeavesNothing(fx, PREFIX, (m) => t.diagnostic(m));
  });
});
