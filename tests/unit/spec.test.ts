import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SpecError } from '../../src/spec/errors';
import { loadSpec, nodeHost, parseSpec, primaryNode, standbyNodes } from '../../src/spec/load';

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
  s.repository.options = { 'repo1-cipher-type': 'aes-256-cbc', 'repo1-cipher-pass': { env: 'STANZACTL_CIPHER_PASS' }, 'repo1-s3-key': { file: '/etc/stanzactl/s3-key' }, 'compress-type': 'zst' };
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
