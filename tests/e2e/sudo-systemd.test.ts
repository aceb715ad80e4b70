import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SshPool } from '../../src/remote/ssh-pool';
import { cmd, script, type Command } from '../../src/shell/command';
import { ProvisionFixture } from './fixture';
import { runCli } from './harness';

const LONG = { timeout: 15 * 60_000 };
const SUDOERS = readFileSync(resolve(__dirname, '../../../deploy/sudoers.d/stanzactl'), 'utf8');
const SECURE_PATH = /^Defaults:stanzactl secure_path="([^"]+)"$/m.exec(SUDOERS)![1];
/** The file's aliases, continuation lines joined: name -> its members. */
const ALIASES = new Map(SUDOERS.replace(/\\\n\s*/g, '').split('\n').flatMap((l) => {
  const m = /^(?:Runas|Cmnd)_Alias (\w+) = (.+)$/.exec(l);
  return m ? [[m[1], m[2].split(/,\s*/)] as const] : [];
}));
// A PGDG host has no PostgreSQL program on sudo's secure_path; a lab host has Debian's wrappers
// and this machine's links there. So every name under binDir gets a decoy in secure_path's first
// directory that logs and fails: a stanzactl command that relied on the path would run one.
const DECOYS = `for p in "$1"/*; do
  d=/usr/local/sbin/\${p##*/}
  printf '#!/bin/sh\\nlogger -t stanzactl-decoy -- "$0 $*"\\nexit 97\\n' > "$d"
  chmod 755 "$d"
done`;

/** What sudo may run as whom: root its STANZACTL_ROOT, nobody else anything. */
function allowed(user: string, path: string): boolean {
  return user === 'root' && ALIASES.get('STANZACTL_ROOT')!.includes(path);
}

/**
 * A site that gives stanzactl no root login: it logs in as `stanzactl` under exactly the rules of
 * deploy/sudoers.d/stanzactl, on hosts whose sudo wants no tty and whose secure_path lacks
 * PGDG's /usr/pgsql-15/bin. The journal (sudo logs to syslog) is read on the PostgreSQL nodes,
 * the hosts of this layout that boot systemd.
 */
describe('logged in as stanzactl under deploy/sudoers.d/stanzactl (systemd-pgdg)', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('systemd-pgdg', 'stsd', '10.231.246.0/24', 'stanzactl', SUDOERS);
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-sudo-'));
  const cli = (...args: string[]) => runCli([...args, '--spec', join(dir, 'spec.json')], f.workerEnv);
  let since = '';
  let pool!: SshPool;
  /** As the `stanzactl` login types it on pg1-srv: no sudo added. */
  const onPrimary = (c: Command) => pool.run({ name: 'pg1-srv', host: f.spec.nodes.find((n) => n.name === 'pg1-srv')!.host! }, c);
  const journal = async (host: string, ...match: string[]) => (await f.checks.sh(host, ['journalctl', '-q', '--no-pager', '-o', 'cat', '--since', since, ...match])).split('\n').filter(Boolean);

  before(async () => {
    await f.setUp();
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(f.spec));
    await Promise.all(f.spec.nodes.map((n) => f.checks.sh(n.name, ['bash', '-c', DECOYS, 'x', f.spec.postgres.binDir])));
    since = `@${(await f.checks.sh('pg1-srv', ['date', '+%s'])).trim()}`;
    pool = new SshPool({ user: 'stanzactl', privateKeyFile: f.spec.ssh.privateKeyFile, knownHostsFile: f.spec.ssh.knownHostsFile, become: 'root' });
  });
  after(async () => {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
    await f.teardown();
  });

  test('provision, a backup and a standby rebuild go through those rules', LONG, async (t) => {
    for (const [what, args] of [['provision', ['provision']], ['backup', ['backup', '--type', 'incr']], ['rebuild', ['rebuild', '--node', 'pg3-srv', '--yes']]] as const) {
      const t0 = Date.now();
      const r = await cli(...args);
      assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
      t.diagnostic(`${what}: ${Math.round((Date.now() - t0) / 1000)} s`);
    }
    assert.deepEqual(await f.checks.streamingStandbys(), ['pg2-srv', 'pg3-srv']);
    await f.checks.rowReplicates();
  });

  test('every command sudo ran is one the file names, as root; no login was root\'s', LONG, async (t) => {
    const ran = new Set<string>();
    let text = '';
    for (const n of f.spec.nodes) {
      const lines = await journal(n.name, 'SYSLOG_IDENTIFIER=sudo');
      text += lines.join('\n');
      for (const l of lines) {
        const m = /^\s*stanzactl : .*; USER=(\S+) ; COMMAND=(\/\S+)/.exec(l);
        if (!m) continue;
        assert.ok(allowed(m[1], m[2]), `${n.name}: the file does not let ${m[2]} run as ${m[1]}: ${l}`);
        ran.add(`${m[1]} ${m[2]}`);
      }
      assert.deepEqual(await journal(n.name, 'SYSLOG_IDENTIFIER=stanzactl-decoy'), [], `${n.name}: a PostgreSQL program was run from the path`);
      assert.deepEqual((await journal(n.name, '_COMM=sshd')).filter((l) => /Accepted \S+ for root /.test(l)), [], `${n.name}: a root login`);
    }
    t.diagnostic(`sudo ran on the nodes: ${[...ran].sort().join(', ')}`);
    assert.ok(ran.has('root /usr/bin/sh'), [...ran].join(', '));
    // The log has each command's whole text: the PostgreSQL programs by their full path under
    // binDir, as the database account, and the unit's control.
    assert.ok(text.includes(`runuser -u postgres -- ${f.spec.postgres.binDir}/psql`), 'psql by its path, as postgres, in the log');
    assert.match(text, /systemctl (start|restart|reload|is-active|show)/);
  });

  test('a command or an account the file does not name is refused', LONG, async () => {
    for (const [argv, user] of [[['/usr/bin/id'], 'root'], [['/usr/bin/id'], 'postgres'], [['/usr/bin/bash', '-c', 'true'], 'postgres'], [['/usr/bin/bash', '-c', 'true'], 'nobody']] as const) {
      const r = await onPrimary(cmd('sudo', '-n', '-u', user, '--', ...argv));
      assert.equal(r.code, 1, `sudo -u ${user} ${argv.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^sudo: a password is required$/m);
      assert.ok(!allowed(user, argv[0]));
    }
  });

  test('sudo\'s path is the file\'s secure_path, whatever the login\'s, and leads to no program under binDir', LONG, async () => {
    const r = await onPrimary(script('PATH="$1:$PATH" sudo -n sh -c \'echo "$PATH"; for p in pg_ctl psql; do command -v "$p"; done\'', f.spec.postgres.binDir));
    assert.equal(r.code, 0, r.stderr);
    const [path, ...found] = r.stdout.trim().split('\n');
    assert.equal(path, SECURE_PATH);
    assert.ok(!path.split(':').includes(f.spec.postgres.binDir));
    assert.deepEqual(found, ['/usr/local/sbin/pg_ctl', '/usr/local/sbin/psql'], 'the decoys, not binDir\'s programs');
  });
});
