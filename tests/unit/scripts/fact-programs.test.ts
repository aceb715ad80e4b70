import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { program } from '../../../src/paths';
import { fake, isRoot, scratch } from './local-host';

// The programs that read a copy directory, the services of a data directory and the WAL, run for
// real on fixture trees with fake runuser, pg_controldata, pg_ctl, systemctl, pgbackrest and
// pg_waldump first on PATH (config-facts.sh and read-fragments.sh: tests/unit/pgbackrest-config).
const { dir, cleanup } = scratch('fact-programs');
after(cleanup);
const bin = join(dir, 'bin');
fake(bin, 'runuser', '[ "$1" = -u ] && shift 2; [ "$1" = -- ] && shift; exec "$@"');
let n = 0;
const fresh = () => { const d = join(dir, `d${n++}`); mkdirSync(d, { recursive: true }); return d; };
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
const run = (name: string, args: string[]) => spawnSync('bash', ['-c', program('activities', name), 'stanzactl', ...args], { encoding: 'utf8', env });

describe('copy-dir-facts.sh', () => {
  const pgbin = fresh();
  fake(pgbin, 'pg_controldata', 'echo "pg_control version number: 1300"; echo "Database system identifier:           7300000000000000001"');
  fake(pgbin, 'pg_ctl', '[ -e "$3/postmaster.pid" ]');
  const facts = (d: string, claim = join(dir, 'no-claim')) => run('copy-dir-facts', [d, claim, 'postgres', pgbin]).stdout.trim().split('\n');

  test('absent, a file or a link in place of the directory', () => {
    const base = fresh();
    assert.deepEqual(facts(join(base, 'absent')), ['absent - 0', 'system-id -', 'running no']);
    writeFileSync(join(base, 'file'), '');
    assert.equal(facts(join(base, 'file'))[0], 'other - 0');
    symlinkSync(fresh(), join(base, 'link'));
    assert.equal(facts(join(base, 'link'))[0], 'other - 0');
  });

  test('a directory: its inode, its entries (a name with a newline counts once), the system id, whether it runs, and our claim', () => {
    const d = fresh();
    const s = statSync(d);
    assert.deepEqual(facts(d), [`directory ${s.dev}:${s.ino} 0`, 'system-id -', 'running no']);
    mkdirSync(join(d, 'global'));
    writeFileSync(join(d, 'global', 'pg_control'), '');
    writeFileSync(join(d, 'odd\nname'), '');
    writeFileSync(join(d, 'postmaster.pid'), '');
    const claim = join(fresh(), 'claim');
    writeFileSync(claim, `demo drill ${s.dev}:${s.ino} ${d}\n`);
    assert.deepEqual(facts(d, claim), [`directory ${s.dev}:${s.ino} 3`, 'system-id 7300000000000000001', 'running yes', `demo drill ${s.dev}:${s.ino} ${d}`]);
  });
});

describe('copy-dir-claim.sh', () => {
  test('claims the directory by inode once (a retry finds its claim); a link or a file is refused with exit 3', () => {
    const d = fresh();
    const claim = join(dir, 'claims', 'c1');
    const s = statSync(d);
    const first = run('copy-dir-claim', [claim, d, 'postgres', 'demo', 'drill']);
    assert.equal(first.stdout.trim(), 'changed', first.stderr);
    assert.equal(readFileSync(claim, 'utf8'), `demo drill ${s.dev}:${s.ino} ${d}\n`);
    assert.equal((statSync(join(dir, 'claims')).mode & 0o777).toString(8), '700');
    assert.equal(run('copy-dir-claim', [claim, d, 'postgres', 'demo', 'drill']).stdout.trim(), 'unchanged');
    assert.equal(run('copy-dir-claim', [claim, d, 'postgres', 'demo', 'restore']).stdout.trim(), 'changed');
    const link = join(fresh(), 'link');
    symlinkSync(d, link);
    const refused = run('copy-dir-claim', [join(dir, 'claims', 'c2'), link, 'postgres', 'demo', 'drill']);
    assert.equal(refused.status, 3);
    assert.match(refused.stderr, /is not a directory/);
  });
});

describe('service-facts.sh', () => {
  test('without systemd running, only that', { skip: spawnSync('test', ['-d', '/run/systemd/system']).status === 0 ? 'systemd runs here' : false }, () => {
    assert.equal(run('service-facts', ['/var/lib/pgsql/15/data', 'postgres', '']).stdout, 'systemd no\n');
  });

  // A private /run with a unit that names the data directory, in a mount namespace of its own.
  test('under systemd: the live postmaster, and the units that name the data directory (or the spec\'s)', { skip: isRoot ? false : 'needs root' }, () => {
    const data = fresh();
    writeFileSync(join(data, 'postmaster.pid'), `${process.pid}\n${data}\n`);
    fake(bin, 'systemctl', 'echo "Id=${@: -1}"; echo LoadState=loaded');
    const inNamespace = (unit: string) => spawnSync('unshare', ['-m', 'bash', '-c', `mount -t tmpfs none /run && mkdir -p /run/systemd/system && printf '[Service]\\nEnvironment=PGDATA=%s\\n' "$2" > /run/systemd/system/edb-as-13.service && exec bash -c "$1" stanzactl "$2" postgres "$3"`, 'x', program('activities', 'service-facts'), data, unit], { encoding: 'utf8', env });
    const found = inNamespace('');
    assert.equal(found.status, 0, found.stderr);
    assert.deepEqual(found.stdout.trim().split('\n'), ['systemd yes', `postmaster ${process.pid}`, 'unit edb-as-13.service', 'Id=edb-as-13.service', 'LoadState=loaded']);
    writeFileSync(join(data, 'postmaster.pid'), '999999999\n');
    assert.deepEqual(inNamespace('postgresql-15.service').stdout.trim().split('\n'), ['systemd yes', 'postmaster -', 'unit postgresql-15.service', 'Id=postgresql-15.service', 'LoadState=loaded']);
  });
});

describe('wal-records.sh', () => {
  const pgbin = fresh();
  const archive = fresh();
  const data = fresh();
  mkdirSync(join(data, 'pg_wal'));
  writeFileSync(join(archive, 'SEG1'), 'archived');
  writeFileSync(join(data, 'pg_wal', 'SEG2'), 'local');
  fake(bin, 'pgbackrest', `[ "$3" = archive-get ] && cp "${archive}/$4" "$5"`);
  fake(pgbin, 'pg_waldump', 'echo "args $*"; for f in "$2"/SEG*; do echo "rmgr: Transaction desc: COMMIT from $(cat "$f")"; done; echo "rmgr: Heap desc: INSERT"; [ -z "$FAIL" ] || { echo "pg_waldump: error: could not find a valid record" >&2; exit 1; }');
  const records = (segments: string[], xid = '', extra: Record<string, string> = {}) => spawnSync('bash', ['-c', program('activities', 'wal-records'), 'stanzactl',
    pgbin, data, 'demo', '1', '0/1000000', '0/3000000', 'Transaction', 'desc: COMMIT', xid, ...segments], { encoding: 'utf8', env: { ...env, ...extra } });

  test('segments from the archive, else from pg_wal, through pg_waldump; only the kept lines come back', () => {
    const r = records(['SEG1', 'SEG2'], '735');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('rmgr')), ['rmgr: Transaction desc: COMMIT from archived', 'rmgr: Transaction desc: COMMIT from local']);
    assert.equal(lines.length, 2, 'the args line and other records are not kept');
    const noXid = spawnSync('bash', ['-c', `${program('activities', 'wal-records').replace('grep -F -- "$keep"', 'cat')}`, 'stanzactl', pgbin, data, 'demo', '1', 'A', 'B', 'XLOG', 'x', '', 'SEG1'], { encoding: 'utf8', env });
    assert.match(noXid.stdout, /^args -p \S+ -t 1 -s A -e B -r XLOG$/m, 'no -x without an xid');
    assert.match(records(['SEG1'], '735', { FAIL: '' }).stdout, /COMMIT/);
  });

  test('a segment in neither place is exit 3, naming it; pg_waldump\'s failure and its words pass through', () => {
    const gap = records(['SEG1', 'SEG9']);
    assert.equal(gap.status, 3);
    assert.match(gap.stderr, /WAL segment SEG9 is neither in the archive nor in .*pg_wal/);
    const failed = records(['SEG1'], '', { FAIL: '1' });
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /could not find a valid record/);
    assert.match(failed.stdout, /COMMIT from archived/);
  });
});
