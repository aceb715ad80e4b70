import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { SpecError } from '../../src/spec/errors';
import { loadSpecDir, loadSpecFile, sharedStanzas, unequalBudgets } from '../../src/spec/load-dir';
import { smallSpec } from './small-spec';

const fixtures = resolve(__dirname, '../../../tests/fixtures/spec');
const demoYaml = readFileSync(`${fixtures}/demo.yaml`, 'utf8');
const root = mkdtempSync(join(tmpdir(), 'stanzactl-specs-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh directory holding `files` (name: text). */
function dir(files: Record<string, string>): string {
  const d = join(root, String(n++));
  mkdirSync(d);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

const json = (over: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(JSON.stringify(smallSpec())), ...over });

function refused(f: () => unknown): SpecError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof SpecError, String(e));
    return e;
  }
  assert.fail('expected a SpecError');
}

describe('a directory of specs', () => {
  test('every *.yaml, *.yml and *.json directly in it, sorted by name; other files, subdirectories and their specs are not', () => {
    const d = dir({ 'b.yml': demoYaml.replace('stanza: demo', 'stanza: bravo'), 'a.json': json({ stanza: 'alpha' }), 'c.YAML': demoYaml, 'notes.txt': 'x', 'd.yaml.bak': 'x' });
    mkdirSync(join(d, 'old.yaml'));
    mkdirSync(join(d, 'sub'));
    writeFileSync(join(d, 'sub', 'e.yaml'), demoYaml.replace('stanza: demo', 'stanza: echo'));
    symlinkSync(join(d, 'sub', 'e.yaml'), join(d, 'e.yaml'));
    const specs = loadSpecDir(d);
    assert.deepEqual(specs.map((s) => [s.file, s.spec.stanza]), [[join(d, 'a.json'), 'alpha'], [join(d, 'b.yml'), 'bravo'], [join(d, 'c.YAML'), 'demo'], [join(d, 'e.yaml'), 'echo']]);
  });

  test('bad specs refuse the whole directory, naming each bad file and each bad field', () => {
    const d = dir({ 'a.json': json({ stanza: 'alpha' }), 'b.json': json({ stanza: 'bravo', nodes: [{ name: 'pg1', role: 'leader' }] }), 'c.yaml': 'stanza: [', 'd.json': json({ stanza: 'delta', colour: 'red' }) });
    const e = refused(() => loadSpecDir(d));
    assert.ok(e.message.startsWith(`${d}: 3 of 4 spec files cannot be used:\n`), e.message);
    assert.deepEqual(e.issues.map((i) => i.path), [`${join(d, 'b.json')}: nodes[0].role`, `${join(d, 'c.yaml')}: (root)`, `${join(d, 'd.json')}: colour`]);
    assert.match(e.message, /c\.yaml: \(root\): syntax error at line 1/);
    assert.match(e.message, /d\.json: colour: unknown field/);
  });

  test('two specs of one stanza on one repository host are refused; on two hosts they are two stanzas', () => {
    const d = dir({ 'a.json': json({ stanza: 'alpha' }), 'b.json': json({ stanza: 'alpha' }) });
    const e = refused(() => loadSpecDir(d));
    assert.deepEqual(e.issues, [{ path: `${join(d, 'b.json')}: stanza`, message: `stanza alpha on repository host backup-srv is also ${join(d, 'a.json')}'s: the two would be one pgBackRest stanza` }]);
    const a = { file: 'a', spec: smallSpec() };
    const other = { file: 'b', spec: { ...a.spec, repository: { ...a.spec.repository, host: 'backup-2' } } };
    assert.deepEqual(sharedStanzas([a, other]), []);
    assert.equal(sharedStanzas([a, { file: 'c', spec: { ...a.spec, repository: { ...a.spec.repository, host: 'BACKUP-SRV' } } }]).length, 1);
  });

  test('specs of one repository host with different budgets are refused: the host has one budget', () => {
    const spec = (stanza: string, budget?: number, host = 'backup-srv') => ({ file: `${stanza}.json`, spec: smallSpec({ stanza, repository: { host, user: 'pgbackrest', path: '/backup_space', retentionFull: 2, ...(budget === undefined ? {} : { budget }) } }) });
    assert.deepEqual(unequalBudgets([spec('a', 2), spec('b', 2), spec('c', 1, 'backup-2')]), []);
    assert.deepEqual(unequalBudgets([spec('a', 2), spec('b')]), [{ path: 'b.json: repository.budget', message: 'no budget (the default) for repository host backup-srv, but a.json says budget 2: one host has one budget, give every spec of it the same' }]);
  });

  test('an empty or missing directory is refused; what a command needs of each spec is checked too', () => {
    assert.match(refused(() => loadSpecDir(dir({ 'x.txt': '' }))).message, /no spec files \(\*\.yaml, \*\.yml, \*\.json\) in /);
    assert.match(refused(() => loadSpecDir(join(root, 'nowhere'))).message, /cannot read .*nowhere: no such directory/);
    const need = (s: ReturnType<typeof smallSpec>) => (s.drills ? [] : [{ path: 'drills', message: 'required' }]);
    const d = dir({ 'a.json': json({ stanza: 'alpha' }) });
    assert.deepEqual(refused(() => loadSpecDir(d, need)).issues, [{ path: `${join(d, 'a.json')}: drills`, message: 'required' }]);
    assert.deepEqual(refused(() => loadSpecFile(join(d, 'a.json'), need)).issues, [{ path: 'drills', message: 'required' }]);
    assert.equal(loadSpecFile(join(d, 'a.json')).spec.stanza, 'alpha');
  });
});
