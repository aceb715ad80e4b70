import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chooseConfigFile, commandLineOnly, ConfigPathError, describeChoice, fragmentConflicts, parseConfigFacts, parseFragments,
  type ConfigPathFact, type OwnSettings,
} from '../../src/facts/pgbackrest-config';
import { isSecretOption } from '../../src/spec/secret-options';
import { program } from '../../src/paths';

// The programs that read these facts on a host (activities/scripts/), run here on fixture trees.
const CONFIG_FACTS = program('activities', 'config-facts');
const READ_FRAGMENTS = program('activities', 'read-fragments');

const GUIDE = '/etc/pgbackrest/pgbackrest.conf';
const ORIG = '/etc/pgbackrest.conf';
const rootDir = (dir: string) => ({ dir, owner: 'root', mode: '755' });
const file = (path: string): ConfigPathFact => ({ path, kind: 'file', target: path, dirs: [rootDir(path.slice(0, path.lastIndexOf('/')) || '/')] });
const absent = (path: string): ConfigPathFact => ({ path, kind: 'absent', dirs: [] });

test('config path: pgBackRest reads the user guide path when it exists, the original default only otherwise', () => {
  assert.deepEqual(chooseConfigFile('h', [file(GUIDE), absent(ORIG)]), { path: GUIDE, write: GUIDE });
  assert.deepEqual(chooseConfigFile('h', [absent(GUIDE), file(ORIG)]), { path: ORIG, write: ORIG });
  // Both: the original default is ignored by pgBackRest, and said so.
  const both = chooseConfigFile('h', [file(GUIDE), file(ORIG)]);
  assert.deepEqual(both, { path: GUIDE, write: GUIDE, ignored: ORIG });
  assert.equal(describeChoice('h', both), `h reads ${GUIDE}; ${ORIG} is ignored by pgBackRest there`);
  // Neither: created where the Debian package puts it.
  assert.deepEqual(chooseConfigFile('h', [absent(GUIDE), { ...absent(ORIG), dirs: [rootDir('/etc')] }]), { path: ORIG, write: ORIG });
});

test('config path: a symlink is written through to its file; a dangling one is "missing" to pgBackRest', () => {
  const link: ConfigPathFact = { path: GUIDE, kind: 'symlink', target: '/srv/conf/pgbackrest.conf', dirs: [rootDir('/etc/pgbackrest'), rootDir('/srv/conf')] };
  const c = chooseConfigFile('h', [link, file(ORIG)]);
  assert.deepEqual(c, { path: GUIDE, write: '/srv/conf/pgbackrest.conf', ignored: ORIG });
  assert.match(describeChoice('h', c), /a symlink to \/srv\/conf\/pgbackrest\.conf/);
  const dangling: ConfigPathFact = { path: GUIDE, kind: 'symlink', dirs: [rootDir('/etc/pgbackrest')] };
  assert.deepEqual(chooseConfigFile('h', [dangling, file(ORIG)]), { path: ORIG, write: ORIG });
});

test('config path: root refuses a directory another account controls, and a path that is not a file', () => {
  const userDir: ConfigPathFact = { ...file(GUIDE), dirs: [{ dir: '/etc/pgbackrest', owner: 'postgres', mode: '755' }] };
  assert.throws(() => chooseConfigFile('pg1', [userDir, absent(ORIG)]), (e: Error) =>
    e instanceof ConfigPathError && /^pg1:\/etc\/pgbackrest \(holding \/etc\/pgbackrest\/pgbackrest\.conf\) belongs to postgres/.test(e.message));
  const groupWritable: ConfigPathFact = { ...file(GUIDE), dirs: [{ dir: '/etc/pgbackrest', owner: 'root', mode: '775' }] };
  assert.throws(() => chooseConfigFile('pg1', [groupWritable, absent(ORIG)]), /mode 775/);
  // The symlink's far end counts too: its directory is where the file is replaced.
  const farEnd: ConfigPathFact = { path: GUIDE, kind: 'symlink', target: '/home/x/p.conf', dirs: [rootDir('/etc/pgbackrest'), { dir: '/home/x', owner: 'x', mode: '700' }] };
  assert.throws(() => chooseConfigFile('pg1', [farEnd, absent(ORIG)]), /\/home\/x \(holding \/home\/x\/p\.conf\) belongs to x/);
  assert.throws(() => chooseConfigFile('pg1', [{ path: GUIDE, kind: 'other', dirs: [] }, file(ORIG)]), /pg1:\/etc\/pgbackrest\/pgbackrest\.conf exists but is not a file/);
});

test('config facts: the script run for real on files, a symlink, a dangling symlink and nothing', () => {
  const d = mkdtempSync(join(tmpdir(), 'stanzactl-conf-'));
  try {
    mkdirSync(join(d, 'etc'));
    writeFileSync(join(d, 'etc', 'a.conf'), '[global]\n');
    symlinkSync(join(d, 'etc', 'a.conf'), join(d, 'link.conf'));
    symlinkSync(join(d, 'nowhere'), join(d, 'dangling.conf'));
    const paths = [join(d, 'etc', 'a.conf'), join(d, 'link.conf'), join(d, 'dangling.conf'), join(d, 'none.conf')];
    const facts = parseConfigFacts(execFileSync('bash', ['-c', CONFIG_FACTS, 'stanzactl', ...paths], { encoding: 'utf8' }));
    assert.deepEqual(facts.map((f) => [f.kind, f.target]), [['file', paths[0]], ['symlink', paths[0]], ['symlink', undefined], ['absent', undefined]]);
    assert.deepEqual(facts[1].dirs.map((x) => x.dir), [d, join(d, 'etc')]);
    assert.match(facts[0].dirs[0].mode, /^[0-7]{3,4}$/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('fragments: every *.conf pgBackRest appends, hidden ones too, in its order, text as is', () => {
  const d = mkdtempSync(join(tmpdir(), 'stanzactl-confd-'));
  try {
    writeFileSync(join(d, 'b.conf'), '[global]\nprocess-max=2\n');
    writeFileSync(join(d, '.hidden.conf'), '[demo]\n');
    writeFileSync(join(d, 'a.conf'), '');
    writeFileSync(join(d, 'notes.txt'), 'not read');
    writeFileSync(join(d, '.conf'), 'not read either');
    const read = parseFragments(execFileSync('bash', ['-c', READ_FRAGMENTS, 'stanzactl', d], { encoding: 'utf8' }));
    assert.deepEqual(read, [
      { path: join(d, '.hidden.conf'), text: '[demo]\n' },
      { path: join(d, 'a.conf'), text: '' },
      { path: join(d, 'b.conf'), text: '[global]\nprocess-max=2\n' },
    ]);
    assert.deepEqual(parseFragments(execFileSync('bash', ['-c', READ_FRAGMENTS, 'stanzactl', join(d, 'missing')], { encoding: 'utf8' })), []);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

const own: OwnSettings = {
  global: [['repo1-path', '/backup_space'], ['log-level-file', 'detail'], ['start-fast', 'y']],
  stanza: [['pg1-path', '/pgdata/as15'], ['pg1-port', '5444']],
};
const conflicts = (text: string) => fragmentConflicts('backup-srv', GUIDE, 'demo', own, [{ path: '/etc/pgbackrest/conf.d/x.conf', text }]);

test('fragments: a setting of stanzactl set again in the same section is refused (pgBackRest would fail)', () => {
  const [m, ...rest] = conflicts('[global]\nlog-level-file=detail\n');
  assert.equal(rest.length, 0);
  assert.match(m, /^backup-srv:\/etc\/pgbackrest\/conf\.d\/x\.conf sets log-level-file=detail in \[global\], and stanzactl sets log-level-file in \[global\] of \/etc\/pgbackrest\/pgbackrest\.conf/);
  assert.match(conflicts('[demo]\npg1-port=5444\n')[0], /set twice in one section/);
});

test('fragments: a section that wins for the stanza must not contradict stanzactl; one that loses may', () => {
  assert.match(conflicts('[demo]\nrepo1-path=/elsewhere\n')[0], /sets repo1-path=\/elsewhere in \[demo\], which overrides stanzactl's repo1-path=\/backup_space in \[global\]/);
  assert.match(conflicts('[demo:backup]\nstart-fast=n\n')[0], /in \[demo:backup\], which overrides stanzactl's start-fast=y/);
  assert.match(conflicts('[global:restore]\nrepo1-path=/x\n')[0], /\[global:restore\]/);
  // [global:command] loses to [demo]; the same value is no contradiction; other stanzas are theirs.
  assert.deepEqual(conflicts('[global:backup]\npg1-port=5432\n[demo]\nrepo1-path=/backup_space\n[other]\nrepo1-path=/x\n[other:backup]\nstart-fast=n\n'), []);
  // Settings stanzactl does not make are the site's own.
  assert.deepEqual(conflicts('# site\n[global]\ncompress-level=3\n[demo]\nprocess-max=4\n'), []);
});

test('fragments: a clash on a secret option names fragment, section and key, never the fragment\'s or stanzactl\'s value', () => {
  const withCipher: OwnSettings = { global: [...own.global, ['repo1-cipher-pass', 'spec-cipher-value']], stanza: own.stanza };
  const clash = (text: string) => fragmentConflicts('backup-srv', GUIDE, 'demo', withCipher, [{ path: '/etc/pgbackrest/conf.d/x.conf', text }]);
  const [twice] = clash('[global]\nrepo1-cipher-pass=fragment-cipher-value\n');
  assert.match(twice, /conf\.d\/x\.conf sets repo1-cipher-pass=\(a secret, not shown\) in \[global\], and stanzactl sets repo1-cipher-pass in \[global\]/);
  const [overrides] = clash('[demo]\nrepo1-cipher-pass=fragment-cipher-value\n');
  assert.match(overrides, /sets repo1-cipher-pass=\(a secret, not shown\) in \[demo\], which overrides stanzactl's repo1-cipher-pass=\(a secret, not shown\) in \[global\]/);
  for (const m of [twice, overrides]) assert.ok(!m.includes('fragment-cipher-value') && !m.includes('spec-cipher-value'), m);
});

test('secret options: one set, every index, by the kind of value; key files and key types are none', () => {
  for (const name of ['repo1-cipher-pass', 'repo2-cipher-pass', 'repo1-s3-key', 'repo1-s3-key-secret', 'repo1-s3-token', 'repo1-azure-key', 'repo1-gcs-key', 'repo1-sftp-private-key-passphrase', 'pg1-password']) {
    assert.equal(isSecretOption(name), true, name);
  }
  for (const name of ['repo1-cipher-type', 'repo1-s3-key-type', 'repo1-host-key-file', 'repo1-s3-bucket', 'repo1-path', 'compress-type', 'log-level-file']) {
    assert.equal(isSecretOption(name), false, name);
  }
});

test('config options in a file are reported: pgBackRest takes them from the command line only', () => {
  const text = '[global]\nconfig-include-path=/etc/pgbackrest/site.d\nrepo1-path=/b\n[demo]\nconfig=/x.conf\n';
  assert.deepEqual(commandLineOnly(text), ['config', 'config-include-path']);
  assert.deepEqual(commandLineOnly(undefined), []);
  assert.equal(
    describeChoice('h', { path: GUIDE, write: GUIDE }, commandLineOnly(text)),
    `h reads ${GUIDE} (which sets config, config-include-path: ignored by pgBackRest, a command-line option)`,
  );
});
