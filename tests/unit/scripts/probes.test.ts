import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REFUSAL_FN, refusalOf } from '../../../src/host/path-guard';
import { program } from '../../../src/paths';
import { fake, scratch } from './local-host';

// The small programs activities read facts with (and the repository user's creation, the key
// pair, the kill of a recorded group), run for real on fixture trees; system tools they would
// change are fakes first on PATH that log their argv.
const { dir, cleanup } = scratch('probes');
after(cleanup);
const bin = join(dir, 'bin');
const log = join(dir, 'calls.log');
let n = 0;
const fresh = () => { const d = join(dir, `d${n++}`); mkdirSync(d, { recursive: true }); return d; };
function run(room: string, name: string, args: string[], env: Record<string, string> = {}, prefix = '') {
  writeFileSync(log, '');
  const r = spawnSync('bash', ['-c', `${prefix}${program(room, name)}`, 'stanzactl', ...args], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) };
}

describe('create-user.sh', () => {
  test('makes the group when missing, then the system user with a home; with the group there, only the user; prints created', () => {
    fake(bin, 'getent', `echo "getent $*" >> ${log}; [ "$1" = group ] && [ "$2" = present ]`);
    fake(bin, 'groupadd', `echo "groupadd $*" >> ${log}`);
    fake(bin, 'useradd', `echo "useradd $*" >> ${log}`);
    const state = join(fresh(), 'state');
    const made = run('activities', 'create-user', ['pgbackrest', state]);
    assert.deepEqual(made.calls, [
      'getent passwd pgbackrest', 'getent group pgbackrest', 'groupadd --system pgbackrest',
      'useradd --system --create-home --home-dir /home/pgbackrest --gid pgbackrest --shell /bin/bash --comment pgBackRest repository pgbackrest']);
    assert.equal(made.stdout, 'created\n');
    assert.ok(existsSync(join(state, 'create-user.lock')), 'the lock lives in the state directory it was given');
    assert.deepEqual(run('activities', 'create-user', ['present', state]).calls.map((c) => c.split(' ').slice(0, 2).join(' ')), ['getent passwd', 'getent group', 'useradd --system']);
  });

  test('an account already there is left alone: "exists", no groupadd or useradd', () => {
    fake(bin, 'getent', `echo "getent $*" >> ${log}; true`);
    const r = run('activities', 'create-user', ['pgbackrest', join(fresh(), 'state')]);
    assert.equal(r.stdout, 'exists\n');
    assert.deepEqual(r.calls, ['getent passwd pgbackrest']);
  });

  test('a failing useradd fails the program', () => {
    fake(bin, 'getent', `[ "$1" = group ]`);
    fake(bin, 'useradd', 'exit 9');
    assert.equal(run('activities', 'create-user', ['present', join(fresh(), 'state')]).status, 9);
  });
});

describe('ensure-keypair.sh and read-public-key.sh', () => {
  const keypair = (home: string) => run('activities', 'ensure-keypair', ['me@host'], { HOME: home }, REFUSAL_FN);
  const pub = (home: string) => run('activities', 'read-public-key', [], { HOME: home });

  test('the first call makes the pair, the second finds it; the public key is read back', () => {
    const home = fresh();
    assert.equal(pub(home).stdout, '');
    const first = keypair(home);
    assert.equal(first.status, 0, first.stderr);
    const [created, key] = first.stdout.trim().split('\n');
    assert.equal(created, 'created');
    assert.match(key, /^ssh-ed25519 \S+ me@host$/);
    assert.deepEqual(keypair(home).stdout.trim().split('\n'), [key]);
    assert.equal(pub(home).stdout.trim(), key);
  });

  test('a link in place of ~/.ssh or a key is refused, and never read', () => {
    const home = fresh();
    symlinkSync(fresh(), join(home, '.ssh'));
    const r = keypair(home);
    assert.match(refusalOf({ code: r.status, stderr: r.stderr }) ?? '', /\.ssh is a symbolic link/);
    const other = fresh();
    mkdirSync(join(other, '.ssh'));
    symlinkSync('/etc/hostname', join(other, '.ssh', 'id_ed25519.pub'));
    assert.equal(pub(other).stdout, '');
  });
});

test('empty-dir.sh: counts what it removes, hidden entries too; an absent directory is "0 0"', () => {
  const d = fresh();
  mkdirSync(join(d, 'sub'));
  writeFileSync(join(d, 'sub', 'f'), '12345');
  writeFileSync(join(d, '.h'), '1');
  const [entries, bytes] = run('activities', 'empty-dir', [d]).stdout.trim().split(' ').map(Number);
  assert.equal(entries, 3);
  assert.ok(bytes >= 6);
  assert.deepEqual(readdirSync(d), []);
  assert.equal(run('activities', 'empty-dir', [join(d, 'absent')]).stdout.trim(), '0 0');
});

test('postgres-version.sh: the binary\'s own answer, or "missing"', () => {
  const pgbin = fresh();
  assert.equal(run('activities', 'postgres-version', [pgbin]).stdout.trim(), 'missing');
  fake(pgbin, 'postgres', 'echo "postgres (PostgreSQL) 15.8 $1"');
  assert.equal(run('activities', 'postgres-version', [pgbin]).stdout.trim(), 'postgres (PostgreSQL) 15.8 --version');
});

test('repo-system-id.sh: the last system id of backup.info, "encrypted" for an encrypted one, nothing without one', () => {
  const repo = fresh();
  const info = join(repo, 'backup', 'demo', 'backup.info');
  assert.equal(run('activities', 'repo-system-id', [repo, 'demo']).stdout, '');
  mkdirSync(join(repo, 'backup', 'demo'), { recursive: true });
  writeFileSync(info, '[db]\ndb-system-id=7300000000000000001\n[db:history]\ndb-system-id=7300000000000000002\n');
  assert.equal(run('activities', 'repo-system-id', [repo, 'demo']).stdout.trim(), '7300000000000000002');
  writeFileSync(info, 'Salted__\x01\x02binary');
  assert.equal(run('activities', 'repo-system-id', [repo, 'demo']).stdout.trim(), 'encrypted');
});

test('archived-timelines.sh: one line per history file in the stanza\'s archive, nothing for an empty one', () => {
  const repo = fresh();
  assert.equal(run('activities', 'archived-timelines', [repo, 'demo']).stdout, '');
  const arch = join(repo, 'archive', 'demo', '15-1');
  mkdirSync(arch, { recursive: true });
  for (const f of ['00000002.history', '00000003.history', '000000010000000000000001-abc.gz']) writeFileSync(join(arch, f), '');
  const r = run('activities', 'archived-timelines', [repo, 'demo']);
  assert.equal(r.status, 0);
  assert.deepEqual(r.stdout.trim().split('\n'), ['00000002', '00000003']);
});

test('dropped-wal-lines.sh: the last dropped-WAL line of each log that exists', () => {
  const logs = fresh();
  writeFileSync(join(logs, 'a.log'), 'x\nP00 WARN: dropped WAL file 1\nP00 WARN: dropped WAL file 2\ny\n');
  writeFileSync(join(logs, 'b.log'), 'nothing here\n');
  const r = run('activities', 'dropped-wal-lines', [join(logs, 'a.log'), join(logs, 'missing.log'), join(logs, 'b.log')]);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, 'P00 WARN: dropped WAL file 2\n');
});

test('controldata.sh: pg_controldata on a readable pg_control, "absent" and "unreadable" otherwise', () => {
  const pgbin = fresh();
  fake(pgbin, 'pg_controldata', 'echo "controldata of $1"');
  const data = fresh();
  assert.equal(run('activities', 'controldata', [pgbin, data]).stdout.trim(), 'absent');
  mkdirSync(join(data, 'global'));
  symlinkSync(join(data, 'nowhere'), join(data, 'global', 'pg_control'));
  assert.equal(run('activities', 'controldata', [pgbin, data]).stdout.trim(), 'unreadable');
  const real = fresh();
  mkdirSync(join(real, 'global'));
  writeFileSync(join(real, 'global', 'pg_control'), '');
  assert.equal(run('activities', 'controldata', [pgbin, real]).stdout.trim(), `controldata of ${real}`);
});

test('host-keys.sh: every public host key of this machine, one a line', () => {
  const files = readdirSync('/etc/ssh').filter((f) => /^ssh_host_.*_key\.pub$/.test(f));
  const lines = run('activities', 'host-keys', []).stdout.trim().split('\n').filter(Boolean);
  assert.equal(lines.length, files.length);
  for (const l of lines) assert.match(l, /^(ssh-|ecdsa-)\S+ \S+/);
});

test('kill-recorded.sh: kills the whole process group and removes its record', async () => {
  const child = spawn('setsid', ['bash', '-c', 'sleep 60 & sleep 60; wait'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  // setsid execs bash as the leader of a new session (not being a group leader, it need not fork).
  const pgid = child.pid as number;
  const record = join(fresh(), `k.1.${pgid}`);
  writeFileSync(record, `${pgid} 1\n`);
  chmodSync(record, 0o600);
  const r = run('remote', 'kill-recorded', [String(pgid), record]);
  assert.equal(r.status, 0, r.stderr);
  await new Promise((res) => child.once('exit', res));
  // The sleeps are orphans once bash dies: the reaper may take a moment.
  for (let i = 0; i < 50 && spawnSync('pgrep', ['-g', String(pgid)]).status === 0; i++) await new Promise((res) => setTimeout(res, 100));
  assert.equal(spawnSync('pgrep', ['-g', String(pgid)]).status, 1, 'nothing of the group is left');
  assert.ok(!existsSync(record));
});

test('pgbackrest-path.sh: the pgbackrest PATH finds, or a failure', () => {
  const only = fresh();
  fake(only, 'pgbackrest', 'true');
  const found = spawnSync('/bin/bash', ['-c', program('activities', 'pgbackrest-path')], { encoding: 'utf8', env: { ...process.env, PATH: only } });
  assert.equal(found.stdout.trim(), join(only, 'pgbackrest'));
  const none = spawnSync('/bin/bash', ['-c', program('activities', 'pgbackrest-path')], { encoding: 'utf8', env: { ...process.env, PATH: fresh() } });
  assert.notEqual(none.status, 0);
  assert.equal(none.stdout, '');
});
