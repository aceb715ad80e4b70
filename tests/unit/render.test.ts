import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadSpec } from '../../src/spec/load';
import type { Spec } from '../../src/spec/schema';
import { parseIni, renderIni } from '../../src/render/ini';
import { ConfigConflictError, nodeConf, repoHostConf } from '../../src/render/pgbackrest-conf';
import { conninfoValue, primaryConninfo } from '../../src/render/recovery';
import { ensureLines, hostHbaLine } from '../../src/render/pg-hba';
import { ensurePgpass, pgpassLine } from '../../src/render/pgpass';
import { controlCommand, serverLogDir } from '../../src/render/postgres-control';
import { describe } from '../../src/shell/command';
import { alterSystemSql, autoConfLines, ensureLoginRoleSql, loginRoleStateSql, quoteIdent, quoteLiteral } from '../../src/render/sql';
import { withResolvedRepositoryOptions } from '../../src/activities/secrets';
import { parseScramVerifier, SCRAM_SALT_BYTES, scramMatches, scramVerifier } from '../../src/render/scram';
import { ensureAuthorizedKey, ensureKnownHosts, knownHostsLine, parsePublicKey, removeAuthorizedKey } from '../../src/facts/ssh-keys';
import { fromPin, keyOptions, REMOTE_GATE } from '../../src/render/authorized-keys';

// The repository host and nodes of these tests have two cores, as the lab machine does.
const CORES = 2;
const fixtures = resolve(__dirname, '../../../tests/fixtures');
const demo = (): Spec => loadSpec(`${fixtures}/spec/demo.yaml`);
const edb = (): Spec => loadSpec(`${fixtures}/spec/edb.yaml`);

test('ini: parse then render gives the text back, comments, spacing and repeated keys included', () => {
  const text = '# top comment\n\n[global]\nrepo1-path = /backup_space\n  # indented comment\nrecovery-option=a=1\nrecovery-option=b=2\n\n[demo]\npg1-path=/x\n';
  const ini = parseIni(text);
  assert.deepEqual(
    ini.sections.map((s) => s.name),
    ['', 'global', 'demo'],
  );
  const global = ini.sections[1].entries.filter((e) => e[0] !== '');
  assert.deepEqual(global, [
    ['repo1-path', '/backup_space'],
    ['recovery-option', 'a=1'],
    ['recovery-option', 'b=2'],
  ]);
  assert.equal(renderIni(ini), text);
});

test('ini: an edited entry is rendered canonically, the rest as read', () => {
  const ini = parseIni('[global]\nrepo1-path = /a\nlog-level-file = debug\n');
  ini.sections[0].entries[1] = ['log-level-file', 'detail'];
  assert.equal(renderIni(ini), '[global]\nrepo1-path = /a\nlog-level-file=detail\n');
});

test('repository host conf has the seed shape while the standbys are not built', () => {
  assert.equal(
    repoHostConf(undefined, demo(), CORES, [], false),
    [
      '[global]',
      'repo1-path=/backup_space',
      'log-level-console=info',
      'log-level-file=detail',
      'start-fast=y',
      'delta=y',
      'compress-type=zst',
      'process-max=2',
      'repo1-bundle=y',
      '',
      '[demo]',
      'repo1-retention-full=2',
      'pg1-host=10.0.0.11',
      'pg1-host-user=postgres',
      'pg1-path=/var/lib/postgresql/15/main',
      'pg1-port=5432',
      '',
    ].join('\n'),
  );
});

test('repository host conf with backups from standbys lists them as pg2, pg3 and sets backup-standby; options land in [global]', () => {
  const out = repoHostConf(undefined, edb(), CORES);
  const ini = parseIni(out);
  const global = Object.fromEntries(ini.sections.find((s) => s.name === 'global')!.entries);
  assert.equal(global['compress-type'], 'zst');
  assert.equal(global['repo1-bundle'], 'y');
  assert.equal(global['process-max'], '2');
  const stanza = ini.sections.find((s) => s.name === 'demo')!.entries;
  assert.deepEqual(stanza, [
    ['repo1-retention-full', '2'],
    ['pg1-host', 'pg1-srv'],
    ['pg1-host-user', 'enterprisedb'],
    ['pg1-path', '/var/lib/edb/as15/data'],
    ['pg1-port', '5444'],
    ['pg2-host', 'pg2-srv'],
    ['pg2-host-user', 'enterprisedb'],
    ['pg2-path', '/var/lib/edb/as15/data'],
    ['pg2-port', '5444'],
    ['pg3-host', 'pg3-srv'],
    ['pg3-host-user', 'enterprisedb'],
    ['pg3-path', '/var/lib/edb/as15/data'],
    ['pg3-port', '5444'],
    ['backup-standby', 'y'],
  ]);
});

test('a spec option may override a default but not a key the spec sets elsewhere', () => {
  const s = demo();
  s.repository.options = { 'log-level-file': 'debug' };
  assert.match(repoHostConf(undefined, s, CORES), /^log-level-file=debug$/m);
  assert.doesNotMatch(repoHostConf(undefined, s, CORES), /log-level-file=detail/);
  s.repository.options = { 'repo1-path': '/elsewhere' };
  assert.throws(() => repoHostConf(undefined, s, CORES), ConfigConflictError);
  s.repository.options = { 'pg1-host': 'x' };
  assert.throws(() => repoHostConf(undefined, s, CORES), ConfigConflictError);
});

test('secret options: resolved on the worker into the repository host\'s file only; an unresolved reference is never rendered', async () => {
  const s = demo();
  s.repository.options = { 'repo1-cipher-type': 'aes-256-cbc', 'repo1-cipher-pass': { env: 'STANZACTL_SECRET_TEST_CIPHER' } };
  assert.throws(() => repoHostConf(undefined, s, CORES), /repo1-cipher-pass is a secret reference that was not resolved/);
  process.env.STANZACTL_SECRET_TEST_CIPHER = 'pass phrase=with + and /';
  try {
    const resolved = await withResolvedRepositoryOptions(s);
    assert.deepEqual(s.repository.options['repo1-cipher-pass'], { env: 'STANZACTL_SECRET_TEST_CIPHER' }, 'the spec itself is left as it was');
    const global = sectionText(repoHostConf(undefined, resolved, CORES), 'global');
    assert.match(global, /^repo1-cipher-type=aes-256-cbc$/m);
    assert.match(global, /^repo1-cipher-pass=pass phrase=with \+ and \/$/m);
    for (const n of s.nodes) assert.doesNotMatch(nodeConf(undefined, resolved, n, CORES), /cipher/);
  } finally {
    delete process.env.STANZACTL_SECRET_TEST_CIPHER;
  }
  await assert.rejects(withResolvedRepositoryOptions(s), /repository\.options\.repo1-cipher-pass: environment variable STANZACTL_SECRET_TEST_CIPHER is not set/);
});

const sharedRepoConf = `# /etc/pgbackrest.conf -- shared by several clusters, edited by hand
[global]
repo1-path = /backup_space
repo1-retention-full=4
log-level-file=debug
process-max=4

# reporting cluster, owned by the BI team
[other]
pg1-host = pg9-srv
pg1-host-user=postgres
pg1-path=/data/pg
# keep the old box until March
pg2-host=pg8-srv

[demo]
pg1-host=old-primary
recovery-option=stale

[other:backup]
process-max=8
`;

function sectionText(conf: string, name: string): string {
  // The section's header up to the next header: the text a merge must keep.
  const start = conf.indexOf(`[${name}]`);
  const next = conf.indexOf('\n[', start + 1);
  return conf.slice(start, next < 0 ? undefined : next + 1);
}

test('repository host conf keeps other stanzas byte-for-byte and replaces ours whole', () => {
  const out = repoHostConf(sharedRepoConf, demo(), CORES, [], false);
  for (const other of ['other', 'other:backup']) assert.equal(sectionText(out, other), sectionText(sharedRepoConf, other));
  assert.ok(out.startsWith('# /etc/pgbackrest.conf -- shared by several clusters, edited by hand\n[global]\nrepo1-path = /backup_space\n'));
  // process-max is stanzactl's now (from the cores); a site keeps its own in the spec or a conf.d fragment.
  assert.match(out, /^process-max=2$/m);
  assert.doesNotMatch(out, /^process-max=4$/m);
  // The retention [global] gives the BI team's stanza stays theirs; ours is in our section.
  assert.match(sectionText(out, 'global'), /^repo1-retention-full=4$/m);
  assert.doesNotMatch(out, /old-primary|stale/);
  assert.match(sectionText(out, 'demo'), /^\[demo\]\nrepo1-retention-full=2\npg1-host=10\.0\.0\.11\npg1-host-user=postgres\npg1-path=\/var\/lib\/postgresql\/15\/main\npg1-port=5432\n\n$/);
});

test('rendering is a fixed point: render(render(x)) == render(x)', () => {
  for (const start of [undefined, '', sharedRepoConf, '[global]\nrepo1-path=/backup_space']) {
    const once = repoHostConf(start, demo(), CORES);
    assert.equal(repoHostConf(once, demo(), CORES), once);
    const edbOnce = repoHostConf(start, edb(), CORES);
    assert.equal(repoHostConf(edbOnce, edb(), CORES), edbOnce);
  }
  for (const node of demo().nodes) {
    const once = nodeConf(sharedRepoConf.replace('repo1-path = /backup_space', 'repo1-host=backup-srv'), demo(), node, CORES);
    assert.equal(nodeConf(once, demo(), node, CORES), once);
  }
});

test('switching backups to the standbys and back turns backup-standby on and off, edits only our stanza, and keeps every node listed', () => {
  const s = edb();
  const withStandbys = repoHostConf(sharedRepoConf, s, CORES);
  s.backups = { fromStandby: false };
  const without = repoHostConf(withStandbys, s, CORES);
  assert.doesNotMatch(without, /backup-standby/);
  assert.match(without, /^pg2-host=pg2-srv$/m);
  assert.equal(sectionText(without, 'other'), sectionText(sharedRepoConf, 'other'));
});

test('the repository lists every node in the spec\'s order whatever its role: after a switchover or failover its file stays as it was, pgBackRest finds the primary', () => {
  const s = demo();
  const moved: Spec = { ...s, nodes: s.nodes.map((n) => ({ ...n, role: n.name === s.nodes[1].name ? 'primary' : 'standby' })) };
  const before = repoHostConf(undefined, s, CORES);
  assert.equal(repoHostConf(before, moved, CORES), before);
  assert.deepEqual([...sectionText(before, 'demo').matchAll(/^pg(\d)-host=(.*)$/gm)].map((m) => [m[1], m[2]]), s.nodes.map((n, i) => [String(i + 1), n.host ?? n.name]));
  // While the standbys are not built, the primary the spec names alone, as pg1.
  assert.match(sectionText(repoHostConf(undefined, moved, CORES, [], false), 'demo'), new RegExp(`^\\[demo\\]\nrepo1-retention-full=2\npg1-host=${moved.nodes[1].host ?? moved.nodes[1].name}\n`));
});

test('a different repo1-path on the repository host is a conflict a DBA can act on', () => {
  const existing = sharedRepoConf.replace('repo1-path = /backup_space', 'repo1-path=/var/lib/pgbackrest');
  assert.throws(
    () => repoHostConf(existing, demo(), CORES),
    (e: unknown) => {
      assert.ok(e instanceof ConfigConflictError);
      assert.match(e.message, /repo1-path=\/var\/lib\/pgbackrest/);
      assert.match(e.message, /\/backup_space/);
      assert.match(e.message, /orphan/);
      assert.match(e.message, /\bother\b/);
      return true;
    },
  );
  // Without repo1-path, the other stanza's backups are in pgBackRest's default path.
  assert.throws(() => repoHostConf('[other]\npg1-host=pg9-srv\n', demo(), CORES), /uses the default repo1-path=\/var\/lib\/pgbackrest.*\bother\b/);
  // ...unless that stanza names its own repository path.
  assert.doesNotThrow(() => repoHostConf('[other]\nrepo1-path=/elsewhere\npg1-host=pg9-srv\n', demo(), CORES));
  // A trailing slash names the same directory: no conflict, and the existing spelling stays.
  const slash = repoHostConf('[global]\nrepo1-path=/backup_space/\n', demo(), CORES);
  assert.match(slash, /^repo1-path=\/backup_space\/$/m);
  // The package's own pgbackrest.conf names a path no stanza uses yet: it is simply replaced.
  const packaged = repoHostConf(readFileSync(join(fixtures, 'pgbackrest', 'debian-package.conf'), 'utf8'), demo(), CORES);
  assert.match(packaged, /^repo1-path=\/backup_space$/m);
  assert.doesNotMatch(packaged, /^repo1-path=\/var\/lib\/pgbackrest$/m);
});

test('node conf has the seed shape; standbys get the recovery option, the primary does not', () => {
  const s = demo();
  const primary = nodeConf(undefined, s, s.nodes[0], CORES);
  assert.equal(
    primary,
    [
      '[global]',
      'repo1-host=backup-srv',
      'repo1-host-user=pgbackrest',
      'repo1-path=/backup_space',
      'log-level-console=info',
      'log-level-file=detail',
      'delta=y',
      'compress-type=zst',
      'process-max=2',
      'archive-async=y',
      'spool-path=/var/spool/pgbackrest',
      'archive-push-queue-max=4GiB',
      'archive-get-queue-max=1GiB',
      '',
      '[demo]',
      'pg1-path=/var/lib/postgresql/15/main',
      'pg1-user=postgres',
      'pg1-port=5432',
      '',
    ].join('\n'),
  );
  const standby = nodeConf(undefined, s, s.nodes[2], CORES);
  assert.match(standby, /^recovery-option=primary_conninfo=host=10\.0\.0\.11 port=5432 user=replic_user application_name=pg3-srv$/m);
  // A standby promoted to primary loses its recovery option.
  assert.doesNotMatch(nodeConf(standby, s, { ...s.nodes[2], role: 'primary' }, CORES), /recovery-option/);
});

test('node conf keeps other stanzas and refuses to re-point them to another repository host', () => {
  const s = demo();
  const existing = '[global]\nrepo1-host=backup-srv\nrepo1-host-user=pgbackrest\n\n[other]\npg1-path = /data/other\npg1-port=5433\n';
  const out = nodeConf(existing, s, s.nodes[1], CORES);
  // Our stanza is appended: everything that was there stays, byte-for-byte.
  assert.ok(out.startsWith(existing.replace('\n\n[other]', '\nrepo1-path=/backup_space\nlog-level-console=info\nlog-level-file=detail\ndelta=y\n' +
    'compress-type=zst\nprocess-max=2\narchive-async=y\nspool-path=/var/spool/pgbackrest\narchive-push-queue-max=4GiB\narchive-get-queue-max=1GiB\n\n[other]')), out);
  assert.throws(() => nodeConf(existing.replace('repo1-host=backup-srv', 'repo1-host=old-backup'), s, s.nodes[1], CORES), ConfigConflictError);
  // Alone on the node, our stanza may move to the spec's repository host.
  assert.match(nodeConf('[global]\nrepo1-host=old-backup\n', s, s.nodes[1], CORES), /^repo1-host=backup-srv$/m);
});

const globalOf = (conf: string): Record<string, string> => Object.fromEntries(parseIni(conf).sections.find((x) => x.name === 'global')!.entries);

test('speed defaults: process-max follows each host\'s cores up to 4; archive settings only on the nodes', () => {
  const s = demo();
  for (const [cores, want] of [[1, '1'], [2, '2'], [4, '4'], [64, '4']] as const) {
    assert.equal(globalOf(repoHostConf(undefined, s, cores))['process-max'], want, `repository host, ${cores} cores`);
    assert.equal(globalOf(nodeConf(undefined, s, s.nodes[1], cores))['process-max'], want, `node, ${cores} cores`);
  }
  const repo = globalOf(repoHostConf(undefined, s, CORES));
  assert.equal(repo['compress-type'], 'zst');
  // pgBackRest's own level for zst (3) unless the spec says otherwise.
  assert.equal(repo['compress-level'], undefined);
  assert.equal(repo['repo1-bundle'], 'y');
  for (const key of ['archive-async', 'spool-path', 'archive-push-queue-max', 'archive-get-queue-max']) assert.equal(repo[key], undefined, key);
  for (const n of s.nodes) {
    const g = globalOf(nodeConf(undefined, s, n, CORES));
    assert.deepEqual([g['compress-type'], g['archive-async'], g['spool-path'], g['archive-push-queue-max'], g['archive-get-queue-max'], g['repo1-bundle']],
      ['zst', 'y', '/var/spool/pgbackrest', '4GiB', '1GiB', undefined], n.name);
  }
});

test('speed settings: each one overridden by the spec, on every host; repository.options still win on the repository host', () => {
  const s = demo();
  s.pgbackrest = { compressType: 'gz', compressLevel: 1, processMax: 6, bundle: false, archiveAsync: false, spoolPath: '/srv/spool', archivePushQueueMax: '16GiB', archiveGetQueueMax: 0 };
  const repo = globalOf(repoHostConf(undefined, s, 64));
  assert.deepEqual([repo['compress-type'], repo['compress-level'], repo['process-max'], repo['repo1-bundle']], ['gz', '1', '6', 'n']);
  const node = globalOf(nodeConf(undefined, s, s.nodes[0], 1));
  assert.deepEqual(
    [node['compress-type'], node['compress-level'], node['process-max'], node['archive-async'], node['spool-path'], node['archive-push-queue-max'], node['archive-get-queue-max']],
    ['gz', '1', '6', 'n', '/srv/spool', '16GiB', '0'],
  );
  // The EDB fixture's options set process-max and compress-type on the repository host.
  const e = edb();
  e.pgbackrest = { compressLevel: 9 };
  const edbRepo = globalOf(repoHostConf(undefined, e, 64));
  assert.deepEqual([edbRepo['compress-type'], edbRepo['compress-level'], edbRepo['process-max']], ['zst', '9', '2']);
});

test('speed settings: a default a conf.d fragment sets is left to the fragment; a spec value is not', () => {
  const s = demo();
  const fragment = '# site\n[global]\ncompress-level=3\nprocess-max=1\n[global:archive-push]\narchive-push-queue-max=1GiB\n[other]\nrepo1-path=/elsewhere\ncompress-type=gz\n';
  const g = globalOf(nodeConf(undefined, s, s.nodes[0], CORES, [fragment]));
  assert.equal(g['process-max'], undefined);
  assert.equal(g['archive-push-queue-max'], undefined);
  // Another stanza's section is not ours to yield to.
  assert.equal(g['compress-type'], 'zst');
  s.pgbackrest = { processMax: 3 };
  assert.equal(globalOf(nodeConf(undefined, s, s.nodes[0], CORES, [fragment]))['process-max'], '3');
  assert.equal(globalOf(repoHostConf(undefined, s, CORES, [fragment]))['process-max'], '3');
});

test('a cluster provisioned before the speed defaults converges to them in one write, then stays put', () => {
  const s = demo();
  // What stanzactl wrote before: the seed's settings, no tuning.
  const oldNode = nodeConf(undefined, s, s.nodes[0], CORES).replace(/^(compress-type|process-max|archive-[a-z-]+|spool-path)=.*\n/gm, '');
  const oldRepo = repoHostConf(undefined, s, CORES).replace(/^(compress-type|process-max|repo1-bundle)=.*\n/gm, '');
  assert.doesNotMatch(oldNode + oldRepo, /compress-type|archive-async/);
  const node = nodeConf(oldNode, s, s.nodes[0], CORES);
  const repo = repoHostConf(oldRepo, s, CORES);
  assert.equal(node, nodeConf(undefined, s, s.nodes[0], CORES));
  assert.equal(repo, repoHostConf(undefined, s, CORES));
  assert.equal(nodeConf(node, s, s.nodes[0], CORES), node);
  assert.equal(repoHostConf(repo, s, CORES), repo);
});

test('conninfo values are quoted per libpq when they need it', () => {
  assert.equal(conninfoValue('pg1-srv'), 'pg1-srv');
  assert.equal(conninfoValue(''), "''");
  assert.equal(conninfoValue('a b'), "'a b'");
  assert.equal(conninfoValue("it's"), "'it\\'s'");
  assert.equal(conninfoValue('back\\slash'), "'back\\\\slash'");
  assert.equal(
    primaryConninfo({ host: 'pg1-srv', port: 5444, user: 'replic_user', applicationName: 'pg 2' }),
    "host=pg1-srv port=5444 user=replic_user application_name='pg 2'",
  );
  assert.throws(() => conninfoValue('a\0b'));
});

test('pg_hba replication lines: /32, /128, host names as they are, keywords quoted', () => {
  assert.equal(hostHbaLine('replication', 'replic_user', '10.0.0.12'), 'host    replication    replic_user    10.0.0.12/32    scram-sha-256');
  assert.equal(hostHbaLine('replication', 'replic_user', 'fd00::12'), 'host    replication    replic_user    fd00::12/128    scram-sha-256');
  assert.equal(hostHbaLine('replication', 'replic_user', 'pg2-srv'), 'host    replication    replic_user    pg2-srv    scram-sha-256');
  assert.equal(hostHbaLine('replication', 'replic_user', '10.0.0.0/24'), 'host    replication    replic_user    10.0.0.0/24    scram-sha-256');
  assert.equal(hostHbaLine('replication', 'all', '10.0.0.12'), 'host    replication    "all"    10.0.0.12/32    scram-sha-256');
});

test('ensureLines appends once under a marker, matches whitespace-insensitively, ignores commented-out lines', () => {
  const base = '# TYPE DATABASE USER ADDRESS METHOD\nlocal all postgres peer\n#host replication replic_user 10.0.0.12/32 scram-sha-256\nhost\treplication\treplic_user\t10.0.0.13/32\tscram-sha-256   # by hand';
  const lines = [hostHbaLine('replication', 'replic_user', '10.0.0.12'), hostHbaLine('replication', 'replic_user', '10.0.0.13'), hostHbaLine('replication', 'replic_user', '10.0.0.12')];
  const first = ensureLines(base, lines);
  assert.deepEqual(first.added, [lines[0]]);
  assert.equal(first.content, `${base}\n# added by stanzactl\n${lines[0]}\n`);
  const second = ensureLines(first.content, lines);
  assert.deepEqual(second.added, []);
  assert.equal(second.content, first.content);
  assert.equal(ensureLines('', []).content, '');
});

test('pgpass lines escape ":" and "\\"; ensurePgpass replaces the same target and keeps the rest', () => {
  assert.equal(pgpassLine({ host: '*', port: '*', database: 'replication', user: 'replic_user', password: 'mypwd' }), '*:*:replication:replic_user:mypwd');
  assert.equal(pgpassLine({ host: 'fd00::1', port: 5432, database: 'replication', user: 'u', password: 'a:b\\c' }), 'fd00\\:\\:1:5432:replication:u:a\\:b\\\\c');
  assert.throws(() => pgpassLine({ host: 'h', port: 1, database: 'd', user: 'u', password: 'a\nb' }));

  const match = { database: 'replication', user: 'replic_user' };
  const other = 'pg9-srv:5433:app:app_user:secret';
  const old = '10.0.0.11:5432:replication:replic_user:old\\:pw';
  const line = pgpassLine({ host: '10.0.0.11', port: 5432, database: 'replication', user: 'replic_user', password: 'new' });
  const r = ensurePgpass(`${other}\n${old}\n# a comment\n${old}\n`, line, match);
  assert.equal(r.content, `${other}\n${line}\n# a comment\n`);
  assert.equal(r.changed, true);
  const again = ensurePgpass(r.content, line, match);
  assert.deepEqual(again, { content: r.content, changed: false });
  const appended = ensurePgpass(other, line, match);
  assert.equal(appended.content, `${other}\n${line}\n`);
  assert.equal(ensurePgpass('', line, match).content, `${line}\n`);
  // Another host's line for the same role is another target: kept.
  const elsewhere = '10.0.0.99:5432:replication:replic_user:x';
  assert.equal(ensurePgpass(`${elsewhere}\n`, line, match).content, `${elsewhere}\n${line}\n`);
});

const hostile = ["it's", 'say "hi"', 'x;-- drop', 'a$$b$$', 'back\\slash', '$tag$', ':var', "'; DROP ROLE postgres; --", 'multi\nline'];

test('SQL quoting survives hostile strings', () => {
  assert.equal(quoteLiteral("it's"), "'it''s'");
  assert.equal(quoteLiteral('back\\slash'), "'back\\slash'");
  assert.equal(quoteIdent('say "hi"'), '"say ""hi"""');
  for (const s of hostile) {
    // Undoing the quoting gives the input back: nothing can escape the quotes.
    assert.equal(quoteLiteral(s).slice(1, -1).replace(/''/g, "'"), s);
    assert.equal(quoteIdent(s).slice(1, -1).replace(/""/g, '"'), s);
    assert.doesNotMatch(quoteLiteral(s).slice(1, -1).replace(/''/g, ''), /'/);
  }
  assert.throws(() => quoteLiteral('a\0b'));
  assert.throws(() => quoteIdent(''));
});

const VERIFIER = 'SCRAM-SHA-256$4096:UpUCLwQiBg56qQLhA1DRIg==$XEmq72IFi2mzTf0e3I5WUxAbnO6ssKSFbPCT8IWI+d8=:/LfCtajGp/veHuRoyhSUmRDKn8kTyk0YwAu2/os8nsU=';

test('a login role script: CREATE or ALTER with a SCRAM verifier, reports created/altered, no dollar quoting', () => {
  const sql = ensureLoginRoleSql('replic_user', VERIFIER, true);
  assert.ok(sql.includes(`CREATE ROLE "replic_user" WITH LOGIN REPLICATION PASSWORD '${VERIFIER}';\n`));
  assert.ok(sql.includes(`ALTER ROLE "replic_user" WITH LOGIN REPLICATION PASSWORD '${VERIFIER}';\n`));
  assert.match(sql, /rolname = 'replic_user'/);
  assert.match(sql, /^\\echo created$/m);
  assert.match(sql, /^\\echo altered$/m);
  assert.doesNotMatch(sql, /\bDO\b/);
  assert.deepEqual(
    sql.split('\n').filter((l) => l.startsWith('\\')),
    ['\\if :stanzactl_create', '\\echo created', '\\else', '\\echo altered', '\\endif'],
  );
  // A plaintext password is a programming error here, never sent.
  for (const pw of hostile) assert.throws(() => ensureLoginRoleSql('replic_user', pw, true), /never a plaintext password/);
  // pg_rewind's role may log in, never stream.
  assert.ok(ensureLoginRoleSql('stanzactl_rewind', VERIFIER, false).includes(`CREATE ROLE "stanzactl_rewind" WITH LOGIN NOREPLICATION PASSWORD '${VERIFIER}';\n`));
  assert.equal(loginRoleStateSql("o'x"), "SELECT rolcanlogin, rolreplication, coalesce(rolpassword, '') FROM pg_catalog.pg_authid WHERE rolname = 'o''x'");
});

// Made by PostgreSQL 15 itself (CREATE ROLE ... PASSWORD with password_encryption=scram-sha-256).
const SERVER_VERIFIER = 'SCRAM-SHA-256$4096:YxkZBc/HWJGMRgYgRGDV9A==$mQOxT3PhdJU333xYEdJ/TMr4ASAzY5VBl1cOXT5Zfbs=:+4dSBJ8my7mOevMDt1cMJa4POOHveMMAL4/i5GYNk2I=';

test('SCRAM-SHA-256: a verifier PostgreSQL made is recognised for its password only', async () => {
  assert.equal(await scramMatches(SERVER_VERIFIER, "p'w$$;--\\ x"), true);
  assert.equal(await scramMatches(SERVER_VERIFIER, "p'w$$;--\\ y"), false);
  assert.equal(await scramMatches(SERVER_VERIFIER, ''), false);
  // What else rolpassword can hold: NULL (''), md5, garbage, a huge iteration count.
  for (const other of ['', 'md5' + 'a'.repeat(32), 'SCRAM-SHA-256$4096:x$y:z', SERVER_VERIFIER.replace('$4096:', '$999999999:')]) {
    assert.equal(await scramMatches(other, "p'w$$;--\\ x"), false, other);
  }
  const v = parseScramVerifier(SERVER_VERIFIER)!;
  assert.equal(v.iterations, 4096);
  assert.equal(v.salt.length, 16);
});

test('SCRAM-SHA-256: our verifier is the one PostgreSQL accepted for a psql login, and round-trips', async () => {
  // psql logged in as a role given this verifier, password "ours-pw", over a scram-sha-256 pg_hba line.
  assert.equal(await scramVerifier('ours-pw', Buffer.from('UpUCLwQiBg56qQLhA1DRIg==', 'base64')), VERIFIER);
  const fresh = await scramVerifier("p'w$$;--\\ x", randomBytes(SCRAM_SALT_BYTES));
  assert.match(fresh, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  assert.equal(await scramMatches(fresh, "p'w$$;--\\ x"), true);
  assert.notEqual(fresh, await scramVerifier("p'w$$;--\\ x", randomBytes(SCRAM_SALT_BYTES)), 'a fresh salt each time');
});

test('ALTER SYSTEM statements quote values and refuse odd names', () => {
  assert.equal(
    alterSystemSql({ archive_mode: 'on', archive_command: "pgbackrest --stanza=demo archive-push %p 'x'" }),
    "ALTER SYSTEM SET archive_mode = 'on';\nALTER SYSTEM SET archive_command = 'pgbackrest --stanza=demo archive-push %p ''x''';\n",
  );
  assert.equal(alterSystemSql({ 'pg_stat_statements.max': '1000' }), "ALTER SYSTEM SET pg_stat_statements.max = '1000';\n");
  assert.throws(() => alterSystemSql({ 'work_mem; DROP TABLE x': '1' }));
  assert.equal(alterSystemSql({}), '');
});

test('postgresql.auto.conf lines are what ALTER SYSTEM writes, and refuse what it could not', () => {
  assert.equal(
    autoConfLines({ listen_addresses: '*', archive_command: "pgbackrest --stanza=demo archive-push %p 'x' \\y" }),
    "listen_addresses = '*'\narchive_command = 'pgbackrest --stanza=demo archive-push %p ''x'' \\\\y'\n",
  );
  assert.throws(() => autoConfLines({ 'work_mem = 1\nfsync': 'off' }), /not a PostgreSQL setting name/);
  assert.throws(() => autoConfLines({ archive_command: 'true\nfsync = off' }), /cannot span lines/);
  assert.equal(autoConfLines({}), '');
});

const ed = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const ed2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

test('public keys parse with and without a comment; garbage is refused', () => {
  assert.deepEqual(parsePublicKey(`${ed} postgres@pg1-srv\n`), { type: 'ssh-ed25519', key: ed.split(' ')[1], comment: 'postgres@pg1-srv' });
  assert.deepEqual(parsePublicKey(ed), { type: 'ssh-ed25519', key: ed.split(' ')[1] });
  assert.throws(() => parsePublicKey('not a key'));
  assert.throws(() => parsePublicKey(''));
});

const gate = `command="${REMOTE_GATE} repo1-path=/backup_space"`;
const toRepo = { pins: ['repo1-path=/backup_space'], from: '10.0.0.11' };

test('authorized_keys: a key stanzactl adds is restricted to the remote gate, pinned, from its address; other lines stay', () => {
  const added = ensureAuthorizedKey('# keys\nssh-rsa AAAAB3Nza other@host\n', `${ed2} pgbackrest@backup-srv`, toRepo);
  assert.equal(added.content, `# keys\nssh-rsa AAAAB3Nza other@host\nrestrict,${gate},from="10.0.0.11" ${ed2} pgbackrest@backup-srv\n`);
  assert.equal(added.changed, true);
  assert.deepEqual(ensureAuthorizedKey(added.content, `${ed2} pgbackrest@backup-srv`, toRepo), { content: added.content, changed: false });
  assert.equal(ensureAuthorizedKey('', ed, { pins: [] }).content, `restrict,command="${REMOTE_GATE}" ${ed}\n`);
  assert.equal(ensureAuthorizedKey('x', ed, { pins: [] }).content, `x\nrestrict,command="${REMOTE_GATE}" ${ed}\n`);
});

test('authorized_keys: an unrestricted or differently restricted line of the key converges to one restricted line, in its place', () => {
  const existing = `# keys\n${ed} postgres@pg1-srv\nssh-rsa AAAAB3Nza other@host\nfrom="10.0.0.0/24",no-pty ${ed} old-comment\n`;
  const r = ensureAuthorizedKey(existing, `${ed} postgres@pg1-srv`, toRepo);
  assert.equal(r.content, `# keys\nrestrict,${gate},from="10.0.0.11" ${ed} postgres@pg1-srv\nssh-rsa AAAAB3Nza other@host\n`);
  assert.equal(r.changed, true);
  // A second stanza's pin on the same key is kept beside this one's.
  const two = ensureAuthorizedKey(r.content, ed, { pins: ['repo1-path=/other'], from: '10.0.0.11' });
  assert.match(two.content, new RegExp(`restrict,command="${REMOTE_GATE} repo1-path=/backup_space repo1-path=/other",from="10.0.0.11" ${ed}\n`));
  assert.equal(ensureAuthorizedKey(two.content, ed, toRepo).changed, false);
});

test('authorized_keys: removing a key drops every line of it, whatever its options', () => {
  const existing = `# keys\nrestrict,${gate} ${ed} a\nssh-rsa AAAAB3Nza other@host\n${ed} b\n`;
  assert.deepEqual(removeAuthorizedKey(existing, `${ed} c`), { content: '# keys\nssh-rsa AAAAB3Nza other@host\n', changed: true });
  assert.deepEqual(removeAuthorizedKey('# keys\n', ed), { content: '# keys\n', changed: false });
});

test('authorized_keys options: pins and from= are refused when they cannot be written safely; names are not pinned', () => {
  assert.throws(() => keyOptions({ pins: ['repo1-path=/a b'] }), /pin/);
  assert.throws(() => keyOptions({ pins: ['repo1-path=/a"'] }), /pin/);
  assert.throws(() => keyOptions({ pins: [], from: 'pg1-srv' }), /IP address/);
  assert.equal(fromPin('pg1-srv'), undefined);
  assert.equal(fromPin('10.0.0.11'), '10.0.0.11');
  assert.equal(fromPin('fd00::1'), 'fd00::1');
});

test('known_hosts: a line per host from its host key; a changed key replaces the old line', () => {
  const line = knownHostsLine(['pg1-srv', '10.0.0.11'], `${ed} root@pg1-srv\n`);
  assert.equal(line, `pg1-srv,10.0.0.11 ${ed}`);
  assert.throws(() => knownHostsLine([], ed));
  assert.throws(() => knownHostsLine(['a b'], ed));
  const other = `backup-srv,10.0.0.10 ${ed2}`;
  const first = ensureKnownHosts(`${other}\n`, line);
  assert.deepEqual(first, { content: `${other}\n${line}\n`, changed: true });
  assert.deepEqual(ensureKnownHosts(first.content, line), { content: first.content, changed: false });
  const rebuilt = knownHostsLine(['pg1-srv', '10.0.0.11'], ed2);
  const replaced = ensureKnownHosts(first.content, rebuilt);
  assert.deepEqual(replaced, { content: `${other}\n${rebuilt}\n`, changed: true });
  // Hashed lines are left alone.
  const hashed = `|1|abc=|def= ${ed}\n`;
  assert.equal(ensureKnownHosts(hashed, line).content, `${hashed}${line}\n`);
});

test('pg_ctl: the server log goes to stanzactl\'s own directory, never beside the data directory', () => {
  const pg = edb().postgres;
  const start = describe(controlCommand(pg, 'start'));
  assert.match(start, new RegExp(` -l /var/log/stanzactl/${pg.osUser}/pg_ctl-${pg.port}\\.log `));
  assert.ok(!start.includes(`${pg.dataDir}.log`));
  assert.equal(serverLogDir(pg), `/var/log/stanzactl/${pg.osUser}`);
});

test('stanzas that only a conf.d fragment names are protected like those in the main file', () => {
  const fragment = '# one file per cluster\n[other]\npg1-host=pg9-srv\n';
  // Their backups are in pgBackRest's default path: moving [global]'s repo1-path would orphan them.
  assert.throws(() => repoHostConf(undefined, demo(), CORES, [fragment]), /uses the default repo1-path=\/var\/lib\/pgbackrest.*\bother\b/);
  assert.doesNotThrow(() => repoHostConf('[global]\nrepo1-path=/backup_space\n', demo(), CORES, [fragment]));
  assert.doesNotThrow(() => repoHostConf(undefined, demo(), CORES, ['[other]\nrepo1-path=/elsewhere\n']));
  // On a node, a fragment's stanza archives to the repository host [global] names.
  const s = demo();
  assert.throws(() => nodeConf('[global]\nrepo1-host=old-backup\n', s, s.nodes[0], CORES, [fragment]), /sends stanza\(s\) other to repository host old-backup/);
  assert.doesNotThrow(() => nodeConf('[global]\nrepo1-host=old-backup\n', s, s.nodes[0], CORES));
});
