import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProvision, type ProvisionResult } from '../../src/client';
import { labExec } from '../../dev/lab';
import { ClusterChecks } from './cluster-checks';
import { ProvisionFixture } from './fixture';
import { runCli } from './harness';

const LONG = { timeout: 15 * 60_000 };

// pgBackRest laid out as its user guide does (RHEL's packages too): /etc/pgbackrest/pgbackrest.conf
// shared with another cluster's stanza, plus a conf.d fragment; no /etc/pgbackrest.conf at all.
const OTHER_STANZA = `[other]
pg1-host=10.9.9.9
pg1-path=/var/lib/pgsql/15/data
# kept as written: spacing, comments and all
pg1-port = 5433
`;
const guideConf = (global: string) => `# pgBackRest configuration, laid out as the user guide does
[global]
${global}
${OTHER_STANZA}`;
const FRAGMENT = `# site-wide settings
[global]
compress-level=3
`;

// Another cluster's stanza in a fragment of its own, backed up to the same repository path.
const LEGACY_FRAGMENT = `[legacy]
pg1-host=10.9.9.8
pg1-path=/srv/legacy/data
`;

const GUIDE_LAYOUT = `set -eu
rm -f /etc/pgbackrest.conf
install -d -m 755 /etc/pgbackrest /etc/pgbackrest/conf.d
printf '%s' "$1" > /etc/pgbackrest/pgbackrest.conf
printf '%s' "$2" > /etc/pgbackrest/conf.d/site.conf
chmod 644 /etc/pgbackrest/pgbackrest.conf /etc/pgbackrest/conf.d/site.conf`;

// The data directory on a mount point (or any custom layout): its parent belongs to root, the
// data directory itself was made for the OS user by whoever set the host up.
const DATA_PARENT = '/pgdata';
const DATA_DIR = `${DATA_PARENT}/as15`;
const MOUNT_LAYOUT = `set -eu
install -d -m 755 -o root -g root "$1"
install -d -m 700 -o enterprisedb -g enterprisedb "$2"`;

/** A workflow failure's messages down its cause chain (the activity's own message is at the end). */
function causes(e: unknown): string {
  const out: string[] = [];
  for (let c = e as { message?: string; cause?: unknown } | undefined; c; c = c.cause as typeof c) out.push(String(c.message));
  return out.join('\n');
}

describe('provision on hosts laid out differently from the lab', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('edb', 'stel', '10.231.141.0/24');
  const exec = async (host: string, argv: string[]) => {
    const r = await labExec(f.lab, host, argv);
    assert.equal(r.code, 0, `${host}: ${argv.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  let repoConf = '';
  let nodeConf = '';

  before(async () => {
    await f.setUp();
    f.spec = { ...f.spec, postgres: { ...f.spec.postgres, dataDir: DATA_DIR } };
    f.checks = new ClusterChecks(f.lab, f.spec);
    repoConf = guideConf('repo1-path=/backup_space\nrepo1-retention-full=2');
    nodeConf = guideConf(`repo1-host=${f.spec.repository.host}`);
    await exec('backup-srv', ['bash', '-c', GUIDE_LAYOUT, 'x', repoConf, FRAGMENT]);
    await exec('pg1-srv', ['bash', '-c', GUIDE_LAYOUT, 'x', nodeConf, FRAGMENT]);
    await exec('backup-srv', ['bash', '-c', 'printf "%s" "$1" > /etc/pgbackrest/conf.d/legacy.conf', 'x', LEGACY_FRAGMENT]);
    for (const n of f.spec.nodes) await exec(n.name, ['bash', '-c', MOUNT_LAYOUT, 'x', DATA_PARENT, DATA_DIR]);
  });
  after(f.teardown);

  test('provision succeeds, writing the file pgBackRest reads and nothing beside the data directory', LONG, async () => {
    const result = (await (await startProvision(f.client, f.spec)).result()) as ProvisionResult;
    assert.deepEqual(result.standbys.map((s) => [s.name, s.state]), [['pg2-srv', 'streaming'], ['pg3-srv', 'streaming']]);
    assert.match(result.steps.find((s) => s.name === 'preflight')!.detail!, new RegExp(`${f.spec.repository.host.replace(/\./g, '\\.')} reads /etc/pgbackrest/pgbackrest\\.conf`));

    for (const [host, before] of [['backup-srv', repoConf], ['pg1-srv', nodeConf]] as const) {
      const conf = await exec(host, ['cat', '/etc/pgbackrest/pgbackrest.conf']);
      assert.match(conf, /^\[demo\]$/m, `${host}: the stanza is in the file pgBackRest reads`);
      // The other stanza's section and the lines before [global] are kept byte for byte.
      assert.ok(conf.includes(OTHER_STANZA), `${host}: the other stanza's section is kept as written:\n${conf}`);
      assert.ok(conf.startsWith(before.slice(0, before.indexOf('\n') + 1)));
      assert.equal(await exec(host, ['cat', '/etc/pgbackrest/conf.d/site.conf']), FRAGMENT);
      const old = await labExec(f.lab, host, ['test', '-e', '/etc/pgbackrest.conf']);
      assert.notEqual(old.code, 0, `${host}: /etc/pgbackrest.conf was created`);
    }
    assert.equal(await exec('backup-srv', ['cat', '/etc/pgbackrest/conf.d/legacy.conf']), LEGACY_FRAGMENT);
    // Hosts with the package's /etc/pgbackrest.conf keep getting that one.
    assert.match(await exec('pg2-srv', ['cat', '/etc/pgbackrest.conf']), /^\[demo\]$/m);

    // Nothing was written beside the data directories, in a directory that belongs to root.
    // pg_ctl's server log went to stanzactl's own directory, into one of the OS user's.
    for (const n of f.spec.nodes) {
      assert.equal((await exec(n.name, ['ls', '-A', DATA_PARENT])).trim(), 'as15', `${n.name}:${DATA_PARENT}`);
      const owners = await exec(n.name, ['stat', '-c', '%n %U %a', '/var/log/stanzactl', '/var/log/stanzactl/enterprisedb', '/var/log/stanzactl/enterprisedb/pg_ctl-5444.log']);
      assert.match(owners, /^\/var\/log\/stanzactl root 755\n\/var\/log\/stanzactl\/enterprisedb enterprisedb 700\n\/var\/log\/stanzactl\/enterprisedb\/pg_ctl-5444\.log enterprisedb /);
    }
  });

  test('the cluster works, checked without stanzactl (pgbackrest info and check)', LONG, async () => {
    await f.checks.assertHealthy();
    const info = await f.checks.pgbackrest('info');
    assert.match(info, /stanza: demo\n\s+status: ok/);
    // The primary reads the user guide's path too: check from there, as the cluster's owner.
    await f.checks.sh('pg1-srv', ['pgbackrest', '--stanza=demo', 'check'], f.spec.postgres.osUser);
  });

  test('provision again changes nothing and says so', LONG, async () => {
    await f.checks.assertProvisionChangesNothing(() => startProvision(f.client, f.spec).then((h) => h.result() as Promise<ProvisionResult>));
  });

  test('a standby rebuilt on this layout streams again, still with nothing beside its data directory', LONG, async () => {
    const pg = f.spec.postgres;
    await exec('pg2-srv', ['runuser', '-u', pg.osUser, '--', `${pg.binDir}/pg_ctl`, '-D', DATA_DIR, 'stop', '-m', 'immediate']);
    await exec('pg2-srv', ['rm', '-f', `${DATA_DIR}/global/pg_control`]);
    const dir = mkdtempSync(join(tmpdir(), 'stanzactl-spec-'));
    try {
      writeFileSync(join(dir, 'spec.json'), JSON.stringify(f.spec));
      const r = await runCli(['rebuild', '--node', 'pg2-srv', '--yes', '--spec', join(dir, 'spec.json')], f.workerEnv);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await f.checks.rowReplicates();
    assert.deepEqual(await f.checks.streamingStandbys(), ['pg2-srv', 'pg3-srv']);
    assert.equal((await exec('pg2-srv', ['ls', '-A', DATA_PARENT])).trim(), 'as15');
  });

  test('a conf.d fragment that would silently override a setting of stanzactl is refused, naming the fragment', LONG, async () => {
    // [demo] wins over [global] in pgBackRest: this would move the stanza's backups behind stanzactl's back.
    await exec('backup-srv', ['bash', '-c', 'printf "[demo]\\nrepo1-path=/elsewhere\\n" > /etc/pgbackrest/conf.d/zz-local.conf']);
    const before = await exec('backup-srv', ['cat', '/etc/pgbackrest/pgbackrest.conf']);
    await assert.rejects(
      startProvision(f.client, f.spec).then((h) => h.result()),
      (e: Error) => {
        const message = causes(e);
        assert.match(message, /\/etc\/pgbackrest\/conf\.d\/zz-local\.conf/);
        assert.match(message, /repo1-path/);
        return true;
      },
    );
    assert.equal(await exec('backup-srv', ['cat', '/etc/pgbackrest/pgbackrest.conf']), before);
    await exec('backup-srv', ['rm', '/etc/pgbackrest/conf.d/zz-local.conf']);
  });
});
