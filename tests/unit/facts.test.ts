import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fullBackups, parseInfo, systemIdOf } from '../../src/facts/pgbackrest-info';
import { parsePgbackrestVersion } from '../../src/facts/pgbackrest-version';
import { classifyPgbackrestExit, pgbackrestErrorLine } from '../../src/facts/pgbackrest-exit';
import { parseControlData, parseReplicationRows, parseSettings } from '../../src/facts/postgres';
import { ensureAuthorizedKey, ensureKnownHosts, knownHostsLine, parsePublicKey } from '../../src/facts/ssh-keys';

// Real outputs of pgBackRest 2.45 and PostgreSQL 15, captured from throwaway clusters.
const fixtures = resolve(__dirname, '../../../tests/fixtures');
const read = (p: string): string => readFileSync(`${fixtures}/${p}`, 'utf8');

test('info: a stanza with a full, an incr and a diff backup', () => {
  const [s] = parseInfo(read('pgbackrest/info-alpha-backups.json'));
  assert.equal(s.name, 'alpha');
  assert.deepEqual(s.status, { code: 0, message: 'ok', lockHeld: false });
  assert.equal(s.cipher, 'none');
  assert.deepEqual(s.db, [{ id: 1, systemId: '7712077147122823720', version: '15', repoKey: 1 }]);
  assert.deepEqual(s.archive, [{ id: '15-1', min: '000000010000000000000001', max: '000000010000000000000007', dbId: 1, repoKey: 1 }]);
  assert.deepEqual(
    s.backups.map((b) => [b.label, b.type, b.prior]),
    [
      ['20261125-115815F', 'full', null],
      ['20261125-115815F_20261125-115819I', 'incr', '20261125-115815F'],
      ['20261125-115815F_20261125-115821D', 'diff', '20261125-115815F'],
    ],
  );
  const full = s.backups[0];
  assert.deepEqual(full.timestamp, { start: 1795607895, stop: 1795607898 });
  assert.deepEqual(full.lsn, { start: '0/2000028', stop: '0/3000050' });
  assert.deepEqual(full.archive, { start: '000000010000000000000002', stop: '000000010000000000000003' });
  assert.deepEqual(full.sizes, { database: 22992588, delta: 22992588, repo: 3056842, repoDelta: 3056842 });
  assert.equal(full.error, false);
  assert.deepEqual(full.reference, []);
  assert.deepEqual(s.backups[1].reference, ['20261125-115815F']);
  assert.deepEqual(s.backups[1].sizes, { database: 30242508, delta: 8659210, repo: 3893583, repoDelta: 999229 });
  assert.deepEqual(fullBackups(s).map((b) => b.label), ['20261125-115815F']);
  assert.deepEqual(s.repos, [{ cipher: 'none', key: 1, status: { code: 0, message: 'ok' } }]);
});

test('info: the 19-digit system-id stays exact (JSON.parse alone would round it)', () => {
  const text = read('pgbackrest/info-alpha-backups.json');
  assert.match(text, /"system-id":7712077147122823720\b/);
  assert.notEqual(String((JSON.parse(text) as { db: { 'system-id': number }[] }[])[0].db[0]['system-id']), '7712077147122823720');
  const [s] = parseInfo(text);
  assert.equal(systemIdOf(s), '7712077147122823720');
  // The same id pg_controldata prints for that cluster.
  assert.equal(parseControlData(read('postgres/controldata-primary.txt')).systemIdentifier, systemIdOf(s));
});

test('info: a stanza with no backups yet', () => {
  const [s] = parseInfo(read('pgbackrest/info-no-backups.json'));
  assert.equal(s.name, 'beta');
  assert.deepEqual(s.status, { code: 2, message: 'no valid backups', lockHeld: false });
  assert.deepEqual(s.backups, []);
  assert.deepEqual(fullBackups(s), []);
  assert.equal(systemIdOf(s), '7712077150075888193');
  assert.deepEqual(s.archive, [{ id: '15-1', min: null, max: null, dbId: 1, repoKey: 1 }]);
});

test('info: a stanza the repository does not have', () => {
  const [s] = parseInfo(read('pgbackrest/info-missing-stanza.json'));
  assert.equal(s.name, 'alpha');
  assert.equal(s.status.code, 1);
  assert.equal(s.status.message, 'missing stanza path');
  assert.deepEqual(s.db, []);
  assert.equal(systemIdOf(s), undefined);
  assert.deepEqual(parseInfo(read('pgbackrest/info-empty-repo.json')), []);
});

test('info: a repository holding two stanzas', () => {
  const all = parseInfo(read('pgbackrest/info-two-stanzas.json'));
  assert.deepEqual(
    all.map((s) => [s.name, s.status.code, s.backups.length, systemIdOf(s)]),
    [
      ['alpha', 0, 3, '7712077147122823720'],
      ['beta', 2, 0, '7712077150075888193'],
    ],
  );
});

test('info: a backup running (lock held) and an unreachable repository host', () => {
  const [running] = parseInfo(read('pgbackrest/info-running.json'));
  assert.equal(running.status.lockHeld, true);
  const [unreachable] = parseInfo(read('pgbackrest/info-repo-unreachable.json'));
  assert.equal(unreachable.status.code, 99);
  assert.match(unreachable.repos[0].status.message, /Connection refused/);
});

test('info: non-JSON and unexpected shapes are clear errors', () => {
  assert.throws(() => parseInfo('ERROR: [055]: unable to load info file'), /did not print JSON/);
  assert.throws(() => parseInfo('[{"name": "x"}]'), /unexpected pgbackrest info JSON/);
  assert.throws(() => parseInfo('{}'), /unexpected pgbackrest info JSON/);
});

test('info: fullBackups ignores the full backups of an older database (before a stanza-upgrade)', () => {
  const [s] = parseInfo(read('pgbackrest/info-alpha-backups.json'));
  const upgraded = { ...s, db: [...s.db, { id: 2, systemId: '7712077147122823999', version: '16', repoKey: 1 }] };
  assert.deepEqual(fullBackups(upgraded), []);
  assert.equal(systemIdOf(upgraded), '7712077147122823999');
});

test('pgbackrest version', () => {
  assert.equal(parsePgbackrestVersion(read('pgbackrest/version.txt')), '2.45');
  assert.equal(parsePgbackrestVersion('pgBackRest 2.46dev\n'), '2.46dev');
  assert.throws(() => parsePgbackrestVersion('bash: pgbackrest: command not found\n'), /unexpected output/);
  assert.throws(() => parsePgbackrestVersion(''));
});

test('exit codes: the real failures map to names and retryability', () => {
  // [file, exit code pgBackRest returned, name, retryable]
  const seen: [string, number, string, boolean][] = [
    ['err-lock-conflict.txt', 50, 'LockAcquireError', true],
    ['err-check-missing-stanza.txt', 55, 'FileMissingError', true],
    ['err-backup-missing-stanza.txt', 55, 'FileMissingError', true],
    ['err-backup-mismatch.txt', 51, 'BackupMismatchError', false],
    ['err-check-mismatch.txt', 28, 'FileInvalidError', false],
    ['err-option-invalid.txt', 32, 'OptionInvalidValueError', false],
    ['err-db-connect.txt', 56, 'DbConnectError', true],
    ['err-host-connect.txt', 27, 'ConfigError', false],
    ['err-repo-host-connect-check.txt', 125, 'UnknownError', true],
  ];
  for (const [file, code, name, retryable] of seen) {
    assert.deepEqual(classifyPgbackrestExit(code), { name, retryable }, file);
    const line = pgbackrestErrorLine(read(`pgbackrest/${file}`));
    assert.ok(line?.startsWith(`ERROR: [${String(code).padStart(3, '0')}]: `), `${file}: ${line}`);
  }
  // With the output, a missing stanza is lasting and a host that did not answer is passing.
  assert.deepEqual(classifyPgbackrestExit(55, read('pgbackrest/err-check-missing-stanza.txt')), { name: 'FileMissingError', retryable: false });
  assert.deepEqual(classifyPgbackrestExit(55, read('pgbackrest/err-backup-missing-stanza.txt')), { name: 'FileMissingError', retryable: false });
  assert.deepEqual(classifyPgbackrestExit(27, read('pgbackrest/err-host-connect.txt')), { name: 'ConfigError', retryable: true });
  assert.deepEqual(classifyPgbackrestExit(27, 'ERROR: [027]: option \'pg1-path\' must be set'), { name: 'ConfigError', retryable: false });
  assert.deepEqual(classifyPgbackrestExit(50, read('pgbackrest/err-lock-conflict.txt')), { name: 'LockAcquireError', retryable: true });
  assert.deepEqual(classifyPgbackrestExit(0), { name: 'Success', retryable: false });
  assert.deepEqual(classifyPgbackrestExit(58), { name: 'DbMismatchError', retryable: false });
  assert.deepEqual(classifyPgbackrestExit(44), { name: 'ArchiveMismatchError', retryable: false });
  assert.deepEqual(classifyPgbackrestExit(49), { name: 'HostConnectError', retryable: true });
  assert.deepEqual(classifyPgbackrestExit(42), { name: 'FileReadError', retryable: true });
  assert.deepEqual(classifyPgbackrestExit(31), { name: 'OptionInvalidError', retryable: false });
  assert.deepEqual(classifyPgbackrestExit(255), { name: 'exit code 255', retryable: false });
});

test('the error line keeps its HINTs and drops the log lines around it', () => {
  assert.equal(
    pgbackrestErrorLine(read('pgbackrest/err-lock-conflict.txt')),
    "ERROR: [050]: unable to acquire lock on file '/tmp/stzfx/lock/beta-backup.lock': Resource temporarily unavailable\nHINT: is another pgBackRest process running?",
  );
  assert.equal(
    pgbackrestErrorLine(read('pgbackrest/err-backup-mismatch.txt')),
    'ERROR: [051]: PostgreSQL version 15, system-id 7712077150075888193 do not match stanza version 15, system-id 7712077147122823720\nHINT: is this the correct stanza?',
  );
  assert.equal(pgbackrestErrorLine('P00   INFO: backup command end: completed successfully\n'), undefined);
  // The last error wins; a log-prefixed one (log-level-console with timestamps) counts.
  assert.equal(
    pgbackrestErrorLine('ERROR: [056]: first\n2026-01-01 00:00:00.000 P00  ERROR: [050]: second\n'),
    'ERROR: [050]: second',
  );
});

test('pg_stat_replication rows: socket and TCP standbys, busy and idle', () => {
  assert.deepEqual(parseReplicationRows(read('postgres/replication.tsv')), [
    { applicationName: 'alpha-sb2', clientAddr: '127.0.0.1', state: 'streaming', syncState: 'async', replayLag: '00:00:00.152071', lagBytes: 0 },
    { applicationName: 'alpha-sb', clientAddr: '', state: 'streaming', syncState: 'async', replayLag: '00:00:00.051017', lagBytes: 0 },
  ]);
  assert.equal(parseReplicationRows(read('postgres/replication-busy.tsv'))[0].lagBytes, 8702024);
  assert.deepEqual(parseReplicationRows(''), []);
  assert.deepEqual(parseReplicationRows('pg2-srv\t10.0.0.12\tstartup\tasync\t\t\n'), [
    { applicationName: 'pg2-srv', clientAddr: '10.0.0.12', state: 'startup', syncState: 'async', replayLag: '', lagBytes: undefined },
  ]);
  assert.throws(() => parseReplicationRows('a\tb\n'), /6 tab-separated columns/);
});

test('pg_controldata: primary, standby, shut down', () => {
  assert.deepEqual(parseControlData(read('postgres/controldata-primary.txt')), {
    systemIdentifier: '7712077147122823720',
    clusterState: 'in production',
    timeline: 1,
    checkpointLsn: '0/9000028',
    checksumVersion: 1,
    walLogHints: false,
  });
  assert.equal(parseControlData(read('postgres/controldata-standby.txt')).clusterState, 'in archive recovery');
  const down = parseControlData(read('postgres/controldata-shutdown.txt'));
  assert.equal(down.clusterState, 'shut down');
  assert.equal(down.checkpointLsn, '0/4000028', 'the shutdown checkpoint a switchover target must replay past');
  assert.equal(down.systemIdentifier, '7712077150075888193');
  assert.throws(() => parseControlData('pg_controldata: error: could not open file "global/pg_control"'), /Database system identifier/);
});

test('pg_settings rows, pending_restart included', () => {
  const s = parseSettings(read('postgres/settings.tsv'));
  assert.deepEqual(s.max_wal_senders, { setting: '10', pendingRestart: true });
  assert.deepEqual(s.archive_mode, { setting: 'on', pendingRestart: false });
  assert.equal(s.archive_command.setting, 'pgbackrest --config=/tmp/stzfx/pgbackrest.conf --stanza=alpha archive-push %p');
  assert.deepEqual(Object.keys(s).sort(), ['archive_command', 'archive_mode', 'hot_standby', 'listen_addresses', 'max_wal_senders', 'wal_level']);
  assert.deepEqual(parseSettings('archive_command\ta\tb\tf\n').archive_command, { setting: 'a\tb', pendingRestart: false });
  assert.deepEqual(parseSettings('listen_addresses\t\tf\n').listen_addresses, { setting: '', pendingRestart: false });
  assert.throws(() => parseSettings('wal_level\treplica\tyes\n'), /pending_restart/);
});

test('ssh keys generated by ssh-keygen', () => {
  const user = read('ssh/id_ed25519.pub');
  const host = read('ssh/ssh_host_ed25519_key.pub');
  const rsa = read('ssh/id_rsa.pub');
  assert.equal(parsePublicKey(user).type, 'ssh-ed25519');
  assert.equal(parsePublicKey(user).comment, 'postgres@pg1-srv');
  assert.equal(parsePublicKey(rsa).type, 'ssh-rsa');
  const auth = ensureAuthorizedKey(ensureAuthorizedKey('', user, { pins: [] }).content, rsa, { pins: [] });
  assert.equal(auth.content.split('\n').length, 3);
  assert.deepEqual(ensureAuthorizedKey(auth.content, user.replace('postgres@pg1-srv', 'renamed'), { pins: [] }).changed, true, 'the comment follows the key');
  const line = knownHostsLine(['pg1-srv', '10.0.0.11'], host);
  assert.equal(line, `pg1-srv,10.0.0.11 ${host.split(' ').slice(0, 2).join(' ')}`);
  assert.deepEqual(ensureKnownHosts(`${line}\n`, line), { content: `${line}\n`, changed: false });
});
