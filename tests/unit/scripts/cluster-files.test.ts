import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REFUSAL_FN, refusalOf } from '../../../src/host/path-guard';
import { program } from '../../../src/paths';
import { fake, isRoot, scratch } from './local-host';

// The creation bodies, the hba_file reader/writer and two small probes, run for real on fixture
// directories; runuser, initdb and pg_createcluster are fakes first on PATH that log their argv.
const AUTO_CONF = program('activities', 'auto-conf');
const { dir, cleanup } = scratch('cluster-files');
after(cleanup);
const bin = join(dir, 'bin');
const log = join(dir, 'calls.log');
fake(bin, 'runuser', `echo "runuser $*" >> ${log}; [ "$1" = -u ] && shift 2; [ "$1" = -- ] && shift; exec "$@"`);
fake(bin, 'initdb', `echo "initdb $*" >> ${log}; mkdir -p "$2"; touch "$2/postgresql.conf" "$2/postgresql.auto.conf"`);
fake(bin, 'pg_createcluster', `echo "pg_createcluster $*" >> ${log}; d=$(sed -n 's/.*--datadir \\([^ ]*\\).*/\\1/p' <<< "$*"); touch "$d/PG_VERSION" "$d/postgresql.auto.conf"`);
const run = (text: string, args: string[], input = '') => {
  writeFileSync(log, '');
  const r = spawnSync('bash', ['-eu', '-c', text, 'stanzactl', ...args], { input, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  return { ...r, calls: readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) };
};
let n = 0;
const fresh = () => { const d = join(dir, `d${n++}`); mkdirSync(d); return d; };

describe('creation bodies', () => {
  test('initdb.sh: initdb with checksums as the owner, the port line, then the settings in postgresql.auto.conf', () => {
    const data = fresh();
    const r = run(`${AUTO_CONF}${program('activities', 'initdb')}`, [bin, data, 'postgres', '5444', "archive_mode = 'on'\n"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.calls[0], new RegExp(`^runuser -u postgres -- ${bin}/initdb -D ${data} --data-checksums`));
    assert.match(readFileSync(join(data, 'postgresql.conf'), 'utf8'), /# set by stanzactl when it created this cluster\nport = 5444\n$/);
    assert.equal(readFileSync(join(data, 'postgresql.auto.conf'), 'utf8'), "archive_mode = 'on'\n");
    const runusers = r.calls.filter((c) => c.startsWith('runuser '));
    assert.equal(runusers.length, 3, 'initdb, the port line, the settings: each as the owner');
    assert.ok(runusers.every((c) => c.startsWith('runuser -u postgres -- ')), runusers.join('\n'));
  });

  test('initdb.sh: a failing initdb fails the body before anything else is written', () => {
    const data = fresh();
    const r = run(`${AUTO_CONF}${program('activities', 'initdb')}`, ['/nonexistent', data, 'postgres', '5444', 'x']);
    assert.notEqual(r.status, 0);
    assert.deepEqual(readdirSync(data), []);
  });

  test('create-debian.sh: pg_createcluster as the owner with port, data directory, version and name, then the settings', () => {
    const data = fresh();
    const r = run(`${AUTO_CONF}${program('activities', 'create-debian')}`, ['postgres', '5433', data, '15', 'main', 'listen_addresses = \'*\'\n']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.calls[0], `runuser -u postgres -- pg_createcluster --user postgres --port 5433 --datadir ${data} --locale C.UTF-8 15 main -- --data-checksums`);
    assert.equal(readFileSync(join(data, 'postgresql.auto.conf'), 'utf8'), "listen_addresses = '*'\n");
  });

  test('debian-config.sh: empties the data directory, makes the config, and leaves the data directory empty for the restore', () => {
    const data = fresh();
    writeFileSync(join(data, 'old'), 'x');
    const r = run(program('activities', 'debian-config'), ['15', 'drill', data, 'postgres', '5499']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.calls.filter((c) => c.startsWith('runuser -u postgres -- ')).map((c) => c.split(' ')[4]), ['find', 'pg_createcluster', 'find']);
    assert.deepEqual(readdirSync(data), []);
  });
});

describe('server-file.sh: the file the server names, only inside the spec\'s directories and the account\'s', { skip: isRoot ? false : 'needs root' }, () => {
  const SERVER_FILE = `${REFUSAL_FN}${program('activities', 'server-file')}`;
  const data = fresh();
  const other = fresh();
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all peer\n');
  chmodSync(join(data, 'pg_hba.conf'), 0o640);
  writeFileSync(join(other, 'secret'), 'x');
  symlinkSync(join(other, 'secret'), join(data, 'link'));
  writeFileSync(join(data, 'foreign'), 'x');
  chownSync(join(data, 'foreign'), 65534, 65534);
  const file = (path: string, action: 'read' | 'write' | 'mtime', input = '') => run(SERVER_FILE, ['hba_file', path, action, `${data}\n/nonexistent`], input);
  const refused = (r: ReturnType<typeof run>) => refusalOf({ code: r.status, stderr: r.stderr });

  test('reads, then rewrites keeping the mode', () => {
    assert.equal(file(join(data, 'pg_hba.conf'), 'read').stdout, 'local all all peer\n');
    assert.equal(file(join(data, 'pg_hba.conf'), 'write', 'host all all 0/0 reject\n').status, 0);
    assert.equal(readFileSync(join(data, 'pg_hba.conf'), 'utf8'), 'host all all 0/0 reject\n');
    assert.equal(statSync(join(data, 'pg_hba.conf')).mode & 0o777, 0o640);
  });

  test('says when it was last written, to the microsecond (the server\'s last load is compared with it)', () => {
    const printed = file(join(data, 'pg_hba.conf'), 'mtime').stdout.trim();
    assert.match(printed, /^\d+\.\d{6}$/);
    assert.ok(Math.abs(Number(printed) * 1000 - statSync(join(data, 'pg_hba.conf')).mtimeMs) < 1, `${printed} against ${statSync(join(data, 'pg_hba.conf')).mtimeMs}`);
    assert.match(refused(file(join(other, 'secret'), 'mtime')) ?? '', /outside the config and data directories/);
  });

  test('refuses a path outside the directories (links followed), a missing file, a directory, another account\'s file', () => {
    assert.match(refused(file(join(other, 'secret'), 'read')) ?? '', /outside the config and data directories the spec names \(.* \/nonexistent\)/);
    assert.match(refused(file(join(data, 'link'), 'write', 'y')) ?? '', /\(resolving to .*secret\) is outside/);
    assert.equal(readFileSync(join(other, 'secret'), 'utf8'), 'x');
    assert.match(refused(file(join(data, 'missing'), 'read')) ?? '', /does not exist/);
    mkdirSync(join(data, 'sub'));
    assert.match(refused(file(join(data, 'sub'), 'read')) ?? '', /is not a regular file/);
    assert.match(refused(file(join(data, 'foreign'), 'read')) ?? '', /belongs to nobody, not to the database account root/);
  });
});

test('has-files.sh and exists.sh: yes and no', () => {
  const d = fresh();
  const has = (p: string) => run(program('activities', 'has-files'), [p]).stdout.trim();
  const exists = (p: string) => run(program('host', 'exists'), [p]).stdout.trim();
  assert.equal(has(d), 'no');
  assert.equal(has(join(d, 'absent')), 'no');
  writeFileSync(join(d, '.hidden'), '');
  assert.equal(has(d), 'yes');
  assert.equal(exists(join(d, '.hidden')), 'yes');
  assert.equal(exists(join(d, 'absent')), 'no');
  symlinkSync(join(d, 'absent'), join(d, 'dangling'));
  assert.equal(exists(join(d, 'dangling')), 'no');
});
