import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SpecError } from '../../src/spec/errors';
import { loadSpec, parseSpec } from '../../src/spec/load';
import { nodeHost, primaryNode, standbyNodes } from '../../src/spec/roles';
import { inputIssues } from '../../src/spec/validate';

// Compiled to dist/tests/unit: fixtures stay in the source tree.
const fixtures = resolve(__dirname, '../../../tests/fixtures/spec');
const demoYaml = readFileSync(`${fixtures}/demo.yaml`, 'utf8');
const demo = (): Record<string, any> => JSON.parse(JSON.stringify(parseSpec(demoYaml, 'demo.yaml')));

function specErrorOf(f: () => unknown): SpecError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof SpecError, `expected a SpecError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the spec to be rejected');
}

const issuesOf = (f: () => unknown) => specErrorOf(f).issues;
const messageOf = (f: () => unknown) => specErrorOf(f).message;

/** Rejects the mutated demo spec and returns the issue at `path` (there must be one). */
function rejectAt(mutate: (s: Record<string, any>) => void, path: string): string {
  const s = demo();
  mutate(s);
  const issues = issuesOf(() => parseSpec(JSON.stringify(s), 'bad.json'));
  const hit = issues.find((i) => i.path === path);
  assert.ok(hit, `no issue at ${path}; got ${JSON.stringify(issues)}`);
  return hit.message;
}

test('the example spec is valid in YAML and in JSON, and both say the same', () => {
  const fromYaml = parseSpec(demoYaml, 'demo.yaml');
  const fromJson = loadSpec(`${fixtures}/demo.json`);
  assert.deepEqual(fromJson, fromYaml);
  assert.equal(fromYaml.stanza, 'demo');
  assert.equal(primaryNode(fromYaml).name, 'pg1-srv');
  assert.equal(nodeHost(primaryNode(fromYaml)), '10.0.0.11');
  assert.deepEqual(standbyNodes(fromYaml).map(nodeHost), ['pg2-srv', 'pg3-srv']);
});

test('the EDB layout spec is valid: no configDir with pg_ctl', () => {
  const s = loadSpec(`${fixtures}/edb.yaml`);
  assert.equal(s.postgres.osUser, 'enterprisedb');
  assert.equal(s.postgres.port, 5444);
  assert.equal(s.postgres.configDir, undefined);
  assert.deepEqual(s.postgres.control, { type: 'pg_ctl' });
  assert.equal(s.backups?.fromStandby, true);
});

test('repository options may be secret references ({env:}/{file:}), for any option', () => {
  const s = demo();
  s.repository.options = { 'repo1-cipher-type': 'aes-256-cbc', 'repo1-cipher-pass': { env: 'STANZACTL_SECRET_CIPHER_PASS' }, 'repo1-s3-key': { file: '/etc/stanzactl/s3-key' }, 'compress-type': 'zst' };
  assert.deepEqual(parseSpec(JSON.stringify(s), 'ok.json').repository.options, s.repository.options);
});

test('error messages list one "<path>: <message>" line per issue', () => {
  const s = demo();
  s.postgres.port = 0;
  s.nodes[1].role = 'replica';
  try {
    parseSpec(JSON.stringify(s), 'bad.json');
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof SpecError);
    const lines = e.message.split('\n');
    assert.match(lines[0], /^bad\.json: invalid spec/);
    assert.ok(lines.some((l) => /^\s*postgres\.port: /.test(l)), e.message);
    assert.ok(lines.some((l) => /^\s*nodes\[1\]\.role: /.test(l)), e.message);
  }
});

const invalid: [string, (s: Record<string, any>) => void, string, RegExp?][] = [
  ['missing stanza', (s) => delete s.stanza, 'stanza', /required/],
  ['stanza with a slash', (s) => (s.stanza = 'de/mo'), 'stanza'],
  ['stanza with a space', (s) => (s.stanza = 'my demo'), 'stanza'],
  ['stanza starting with "-"', (s) => (s.stanza = '-demo'), 'stanza'],
  ['two primaries', (s) => (s.nodes[1].role = 'primary'), 'nodes', /exactly one .*found 2/],
  ['zero primaries', (s) => (s.nodes[0].role = 'standby'), 'nodes', /exactly one .*found 0/],
  ['no nodes', (s) => (s.nodes = []), 'nodes'],
  ['duplicate node names', (s) => (s.nodes[2].name = 'pg2-srv'), 'nodes[2].name', /duplicate .*nodes\[1\]/],
  ['unknown role', (s) => (s.nodes[1].role = 'replica'), 'nodes[1].role'],
  ['unknown top-level field', (s) => (s.retention = 3), 'retention', /unknown field/],
  ['unknown nested field', (s) => (s.repository.retention = 3), 'repository.retention', /unknown field/],
  ['unknown field in a node', (s) => (s.nodes[0].ip = '10.0.0.1'), 'nodes[0].ip', /unknown field/],
  ['password as a plain string', (s) => (s.replication.password = 'mypwd'), 'replication.password', /expected object, got string/],
  ['password reference with a bad env name', (s) => (s.replication.password = { env: 'A-B' }), 'replication.password.env'],
  ['password file not absolute', (s) => (s.replication.password = { file: 'pw.txt' }), 'replication.password.file'],
  ['password with both env and file', (s) => (s.replication.password = { env: 'X', file: '/x' }), 'replication.password.file', /unknown field/],
  ['port 0', (s) => (s.postgres.port = 0), 'postgres.port'],
  ['port 65536', (s) => (s.postgres.port = 65536), 'postgres.port'],
  ['port as a string', (s) => (s.postgres.port = '5432'), 'postgres.port', /expected number, got string/],
  ['ssh port not an integer', (s) => (s.ssh.port = 22.5), 'ssh.port'],
  ['relative data directory', (s) => (s.postgres.dataDir = 'var/lib/pg'), 'postgres.dataDir', /absolute/],
  ['".." in the repository path', (s) => (s.repository.path = '/backup/../etc'), 'repository.path', /\.\./],
  ['newline in a path', (s) => (s.postgres.binDir = '/usr/bin\n/x'), 'postgres.binDir'],
  ['pg_ctlcluster without configDir', (s) => delete s.postgres.configDir, 'postgres.configDir', /configDir/],
  ['unknown control type', (s) => (s.postgres.control = { type: 'service' }), 'postgres.control.type'],
  ['systemd without unit', (s) => (s.postgres.control = { type: 'systemd' }), 'postgres.control.unit', /required/],
  ['pg_ctl with a cluster field', (s) => (s.postgres.control = { type: 'pg_ctl', cluster: 'main' }), 'postgres.control.cluster', /unknown field/],
  ['fromStandby without standbys', (s) => ((s.nodes = [s.nodes[0]]), (s.backups.fromStandby = true)), 'backups.fromStandby', /standby/],
  ['shell metacharacters in a host', (s) => (s.nodes[1].host = 'pg1;rm -rf /'), 'nodes[1].host'],
  ['shell metacharacters in the repository host', (s) => (s.repository.host = '$(reboot)'), 'repository.host'],
  ['space in a node name', (s) => (s.nodes[0].name = 'pg1 srv'), 'nodes[0].name'],
  ['upper-case replication role', (s) => (s.replication.user = 'Replic'), 'replication.user'],
  ['OS user with a colon', (s) => (s.postgres.osUser = 'post:gres'), 'postgres.osUser'],
  ['retentionFull 0', (s) => (s.repository.retentionFull = 0), 'repository.retentionFull'],
  ['version 9', (s) => (s.postgres.version = 9), 'postgres.version'],
  ['repository option with "="', (s) => (s.repository.options = { 'a=b': 'x' }), 'repository.options.a=b'],
  ['repository option value with a newline', (s) => (s.repository.options = { 'compress-type': 'zst\n[x]' }), 'repository.options.compress-type'],
  ['repository cipher pass as a literal', (s) => (s.repository.options = { 'repo1-cipher-pass': 'hunter2' }), 'repository.options.repo1-cipher-pass', /a secret: give a reference/],
  ['repository S3 key secret as a literal', (s) => (s.repository.options = { 'repo2-s3-key-secret': 'k' }), 'repository.options.repo2-s3-key-secret', /never the value/],
  ['repository option reference with a bad env name', (s) => (s.repository.options = { 'repo1-cipher-pass': { env: 'A B' } }), 'repository.options.repo1-cipher-pass.env'],
  ['backups with an unknown field', (s) => (s.backups.retention = 'daily'), 'backups.retention', /unknown field/],
  ['backup schedule that is not cron', (s) => (s.backups.schedule = { full: 'daily' }), 'backups.schedule.full', /cron/],
  ['backup schedule for an unknown type', (s) => (s.backups.schedule = { weekly: '0 1 * * 0' }), 'backups.schedule.weekly', /unknown field/],
  ['maxAge that is not a duration', (s) => (s.backups.maxAge = { full: '8 days' }), 'backups.maxAge.full', /duration/],
  ['fromStandby neither boolean nor prefer', (s) => (s.backups.fromStandby = 'maybe'), 'backups.fromStandby'],
  // Values a program would read as options, and values a shell (pgBackRest's remote one) expands.
  ['control.cluster starting with "-"', (s) => (s.postgres.control = { type: 'pg_ctlcluster', cluster: '--help' }), 'postgres.control.cluster', /not starting with "-"/],
  ['control.unit starting with "-"', (s) => (s.postgres.control = { type: 'systemd', unit: '-H' }), 'postgres.control.unit', /not starting with "-"/],
  ['control.unit with a space', (s) => (s.postgres.control = { type: 'systemd', unit: 'edb as' }), 'postgres.control.unit'],
  ['node name starting with "-"', (s) => (s.nodes[1].name = '-oProxyCommand=x'), 'nodes[1].name', /not starting with "-"/],
  ['host starting with "-"', (s) => (s.nodes[1].host = '-oProxyCommand=touch'), 'nodes[1].host'],
  ['repository host starting with "-"', (s) => (s.repository.host = '-p2222'), 'repository.host'],
  ['host label ending with "-"', (s) => (s.nodes[1].host = 'pg2-.example'), 'nodes[1].host'],
  ['IPv4 octet over 255', (s) => (s.nodes[1].host = '10.0.0.256'), 'nodes[1].host'],
  ['ssh user starting with "-"', (s) => (s.ssh.user = '-oX'), 'ssh.user'],
  ['repository user starting with "-"', (s) => (s.repository.user = '-r'), 'repository.user'],
  ['OS user with a capital', (s) => (s.postgres.osUser = 'Postgres'), 'postgres.osUser'],
  ['replication user starting with "-"', (s) => (s.replication.user = '-U'), 'replication.user'],
  ['stanza with "$("', (s) => (s.stanza = 'demo$(id)'), 'stanza'],
  ['stanza with a backtick', (s) => (s.stanza = 'demo`id`'), 'stanza'],
  ['stanza with a newline', (s) => (s.stanza = 'demo\nx'), 'stanza'],
  ['data directory with "$("', (s) => (s.postgres.dataDir = '/var/lib/$(touch /tmp/x)'), 'postgres.dataDir', /letters, digits/],
  ['data directory with a space', (s) => (s.postgres.dataDir = '/var/lib/pg data'), 'postgres.dataDir'],
  ['repository path with a quote', (s) => (s.repository.path = "/backup'x"), 'repository.path'],
  ['binDir with a semicolon', (s) => (s.postgres.binDir = '/usr/bin;id'), 'postgres.binDir'],
  ['configDir with a backtick', (s) => (s.postgres.configDir = '/etc/`id`'), 'postgres.configDir'],
  ['NUL in a path', (s) => (s.postgres.dataDir = '/var/lib/pg\u0000x'), 'postgres.dataDir'],
  ['".." in a secret file', (s) => (s.replication.password = { file: '/etc/stanzactl/secrets/../../shadow' }), 'replication.password.file', /\.\./],
  ['newline in the key file', (s) => (s.ssh.privateKeyFile = '/root/id\nx'), 'ssh.privateKeyFile'],
  ['repository option value with "$("', (s) => (s.repository.options = { 'compress-type': '$(touch /tmp/x)' }), 'repository.options.compress-type', /shell/],
  ['repository option value with a double quote', (s) => (s.repository.options = { 'log-path': '/x" y' }), 'repository.options.log-path'],
  ['repository option value starting with "-"', (s) => (s.repository.options = { 'compress-type': '--help' }), 'repository.options.compress-type'],
  ['repository option naming a program (cmd-ssh)', (s) => (s.repository.options = { 'cmd-ssh': '/usr/bin/touch' }), 'repository.options.cmd-ssh', /program/],
  ['repository option naming a program (repo1-host-cmd)', (s) => (s.repository.options = { 'repo1-host-cmd': '/tmp/x' }), 'repository.options.repo1-host-cmd', /program/],
  ['repository option naming a program (cmd)', (s) => (s.repository.options = { cmd: '/tmp/x' }), 'repository.options.cmd', /program/],
  ['repository option name starting with "-"', (s) => (s.repository.options = { '-x': 'y' }), 'repository.options.-x'],
  ['pgbackrest with an unknown field', (s) => (s.pgbackrest = { compress: 'zst' }), 'pgbackrest.compress', /unknown field/],
  ['pgbackrest compressType unknown', (s) => (s.pgbackrest = { compressType: 'xz' }), 'pgbackrest.compressType'],
  ['pgbackrest zst level out of range', (s) => (s.pgbackrest = { compressLevel: 23 }), 'pgbackrest.compressLevel', /zst levels run from -7 to 22/],
  ['pgbackrest gz level out of range', (s) => (s.pgbackrest = { compressType: 'gz', compressLevel: 10 }), 'pgbackrest.compressLevel', /gz levels/],
  ['pgbackrest level without compression', (s) => (s.pgbackrest = { compressType: 'none', compressLevel: 1 }), 'pgbackrest.compressLevel', /no level/],
  ['pgbackrest processMax 0', (s) => (s.pgbackrest = { processMax: 0 }), 'pgbackrest.processMax'],
  ['pgbackrest queue size with a shell character', (s) => (s.pgbackrest = { archivePushQueueMax: '4GiB;id' }), 'pgbackrest.archivePushQueueMax'],
  ['pgbackrest spool path relative', (s) => (s.pgbackrest = { spoolPath: 'spool' }), 'pgbackrest.spoolPath', /absolute/],
  ['pgbackrest setting given twice', (s) => ((s.pgbackrest = { compressType: 'zst' }), (s.repository.options = { 'compress-type': 'gz' })), 'repository.options.compress-type', /set by pgbackrest\.compressType/],
  ['pgbackrest bundle given twice', (s) => ((s.pgbackrest = { bundle: false }), (s.repository.options = { 'repo1-bundle': true })), 'repository.options.repo1-bundle', /set by pgbackrest\.bundle/],
  ['time zone starting with "-"', (s) => (s.backups.schedule = { full: '0 1 * * 0', timezone: '-x' }), 'backups.schedule.timezone'],
  // Cron strings are parsed for real, field by field.
  ['cron out of range', (s) => (s.backups.schedule = { full: '99 99 * * *' }), 'backups.schedule.full', /minute: 99/],
  ['cron hour 24', (s) => (s.backups.schedule = { diff: '0 24 * * *' }), 'backups.schedule.diff', /hour/],
  ['cron month 13', (s) => (s.backups.schedule = { incr: '0 1 1 13 *' }), 'backups.schedule.incr', /month/],
  ['cron day of week 8', (s) => (s.backups.schedule = { full: '0 1 * * 8' }), 'backups.schedule.full', /dayOfWeek/],
  ['cron reversed range', (s) => (s.backups.schedule = { full: '0 5-1 * * *' }), 'backups.schedule.full', /larger/],
  ['cron step 0', (s) => (s.backups.schedule = { full: '*/0 * * * *' }), 'backups.schedule.full', /stepping/],
  ['cron with six fields', (s) => (s.backups.schedule = { full: '0 0 1 * * 0' }), 'backups.schedule.full', /five fields/],
  ['cron with a shell command', (s) => (s.backups.schedule = { full: '0 1 * * 0; touch /tmp/x' }), 'backups.schedule.full'],
  ['cron unknown name', (s) => (s.backups.schedule = { full: '0 1 * * xyz' }), 'backups.schedule.full'],
  ['cron with L (not Temporal syntax)', (s) => (s.backups.schedule = { full: '0 1 L * *' }), 'backups.schedule.full'],
  ['cron @reboot', (s) => (s.backups.schedule = { full: '@reboot' }), 'backups.schedule.full'],
  ['cron @every (an interval)', (s) => (s.backups.schedule = { full: '@every 2h' }), 'backups.schedule.full', /five fields/],
  ['cron month name as a day', (s) => (s.backups.schedule = { full: '0 1 * * mar' }), 'backups.schedule.full', /day names/],
  ['cron name in the hour field', (s) => (s.backups.schedule = { full: '0 mon * * *' }), 'backups.schedule.full', /numbers only/],
  ['cron "#" (a comment for Temporal)', (s) => (s.backups.schedule = { full: '0 1 * * 5#2' }), 'backups.schedule.full'],
];

for (const [name, mutate, path, message] of invalid) {
  test(`rejected: ${name} -> ${path}`, () => {
    const got = rejectAt(mutate, path);
    if (message) assert.match(got, message);
  });
}

test('a spec that is not an object at all is rejected at (root)', () => {
  const issues = issuesOf(() => parseSpec('just a string\n', 'x.yaml'));
  assert.deepEqual(issues.map((i) => i.path), ['(root)']);
  assert.match(issues[0].message, /expected object, got string/);
});

test('a YAML syntax error names the file and the line', () => {
  const text = demoYaml.replace('stanza: demo', 'stanza: demo\nssh: [unclosed');
  const message = messageOf(() => parseSpec(text, 'cluster.yaml'));
  assert.match(message, /cluster\.yaml/);
  assert.match(message, /line \d+/);
  const tabs = 'stanza: demo\nssh:\n  user: root\n\tport: 22\n';
  const [issue] = issuesOf(() => parseSpec(tabs, 'cluster.yaml'));
  assert.match(issue.message, /line 4, column 1: Tabs/);
});

test('a duplicate YAML key is a syntax error, not a silent override', () => {
  const [issue] = issuesOf(() => parseSpec(`${demoYaml}stanza: other\n`, 'dup.yaml'));
  assert.match(issue.message, /line \d+/);
  assert.match(issue.message, /[Uu]nique|duplicate/);
});

test('a JSON syntax error names the file and the line', () => {
  const text = '{\n  "stanza": "demo",\n  "ssh" {}\n}\n';
  assert.match(messageOf(() => parseSpec(text, 'cluster.json')), /cluster\.json/);
  assert.match(issuesOf(() => parseSpec(text, 'cluster.json'))[0].message, /line 3\b/);
});

test('a missing file is a SpecError naming it', () => {
  const issues = issuesOf(() => loadSpec('/nonexistent/stanzactl.yaml'));
  assert.match(issues[0].message, /\/nonexistent\/stanzactl\.yaml: no such file/);
});

test('.yml and upper-case .JSON pick the right parser', () => {
  const json = JSON.stringify(demo());
  assert.equal(parseSpec(json, 'X.JSON').stanza, 'demo');
  // JSON is YAML too, so a .yml name still parses it.
  assert.equal(parseSpec(json, 'x.yml').stanza, 'demo');
  assert.equal(parseSpec(demoYaml, 'x.yml').stanza, 'demo');
});

test('cron strings Temporal Schedules take and the docs show are accepted', () => {
  for (const c of ['30 1 * * 0', '30 1 * * 1-6', ' 0 12 * * MON-WED,FRI ', '*/15 * * * *', '5/10 * * * *', '0 0 1 jan-mar *', '0 0 1 January-March monday-friday', '0 3 * * 7', '0 0 1-20/2 * *', '@daily', '@weekly']) {
    const s = demo();
    s.backups.schedule = { full: c, timezone: 'Europe/Paris' };
    assert.equal(parseSpec(JSON.stringify(s), 'ok.json').backups?.schedule?.full, c);
  }
});

test('accepted: the formats a DBA needs (dotted host names, IPv6, unit with @, cluster with _, options with spaces)', () => {
  const s = demo();
  s.nodes[1].host = 'pg2.db.example.com';
  s.nodes[2].host = 'fd00::12';
  s.postgres.control = { type: 'systemd', unit: 'postgresql@15-main.service' };
  s.postgres.dataDir = '/srv/pg_data/15.main';
  s.repository.options = { 'compress-type': 'zst', 'repo1-retention-diff': 3, 'log-level-file': 'detail', 'archive-push-queue-max': '4GiB', 'repo1-s3-region': 'eu-west-1', 'exclude': 'a b' };
  assert.equal(parseSpec(JSON.stringify(s), 'ok.json').nodes[2].host, 'fd00::12');
  const d = demo();
  d.postgres.control = { type: 'pg_ctlcluster', cluster: '_main-2' };
  assert.equal(parseSpec(JSON.stringify(d), 'ok.json').postgres.control.type, 'pg_ctlcluster');
});

test('accepted: every pgbackrest tuning field, sizes in bytes or with a unit, negative zst levels', () => {
  const s = demo();
  (s as Record<string, unknown>).pgbackrest = {
    compressType: 'zst', compressLevel: -3, processMax: 8, bundle: false, archiveAsync: false, spoolPath: '/srv/spool/pgbackrest',
    archivePushQueueMax: 17179869184, archiveGetQueueMax: '512MiB',
  };
  assert.equal(parseSpec(JSON.stringify(s), 'ok.json').pgbackrest?.processMax, 8);
  (s as Record<string, unknown>).pgbackrest = { compressType: 'lz4', compressLevel: 12, archivePushQueueMax: '2GB' };
  assert.equal(parseSpec(JSON.stringify(s), 'ok.json').pgbackrest?.compressLevel, 12);
});

test('workflow input: every bad argument named, spec fields by their spec path', () => {
  const s = demo();
  s.stanza = '-x';
  const issues = inputIssues(s, { node: '$(id)', request: { type: 'full; id' }, options: { deltaBy: 'size', x: 1 } });
  const paths = issues.map((i) => i.path).sort();
  assert.deepEqual(paths, ['node', 'options.deltaBy', 'options.x', 'request.type', 'stanza']);
  assert.deepEqual(inputIssues(demo(), { node: 'pg2-srv', request: { type: 'diff' }, options: undefined }), []);
  assert.deepEqual(inputIssues(demo(), { options: {} }), []);
});

test('workflow input: a node must be one of the spec\'s nodes', () => {
  const [issue] = inputIssues(demo(), { node: 'pg9-srv' });
  assert.equal(issue.path, 'node');
  assert.match(issue.message, /not a node of the spec \(pg1-srv, pg2-srv, pg3-srv\)/);
});

test('workflow input: a spec that is not even an object is named at (root)', () => {
  assert.deepEqual(inputIssues('rm -rf /', { node: 'pg2-srv' }).map((i) => i.path), ['(root)']);
  assert.deepEqual(inputIssues(undefined).map((i) => i.path), ['(root)']);
});
