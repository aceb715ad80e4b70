import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import YAML from 'yaml';
import type { Spec } from '../../src/spec/schema';
import type { FleetReport } from '../../src/status/fleet';
import { ProvisionFixture, provisionedCluster } from './fixture';
import { literally, runCli, until } from './harness';

const LONG = { timeout: 5 * 60_000 };

describe('a fleet: clusters with a spec file each', { timeout: 30 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stfl', '10.231.96.0/24');
  provisionedCluster(f);
  const root = mkdtempSync(join(tmpdir(), 'stanzactl-fleet-'));
  const dirs = { both: join(root, 'both'), good: join(root, 'good'), bad: join(root, 'bad'), fifty: join(root, 'fifty') };
  const cli = (...args: string[]) => runCli(args, f.workerEnv);

  before(() => {
    // A cluster that is down: its node is the scratch host, where no PostgreSQL cluster runs, and the repository has no such stanza.
    const ghost = (stanza: string): Spec => ({ ...f.spec, stanza, nodes: [{ name: `${stanza}-srv`, host: f.scratch.ip, role: 'primary' }] });
    const write = (dir: string, files: Record<string, string>) => {
      mkdirSync(dir);
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    };
    const demo = JSON.stringify(f.spec);
    write(dirs.good, { 'demo.json': demo });
    write(dirs.both, { 'demo.json': demo, 'ghost.yaml': YAML.stringify(ghost('ghost')) });
    write(dirs.bad, { 'demo.json': demo, 'other.json': JSON.stringify({ ...ghost('other'), nodes: [{ name: 'other-srv', role: 'leader' }] }) });
    write(dirs.fifty, Object.fromEntries([['demo.json', demo], ...Array.from({ length: 49 }, (_, i) => [`ghost${i}.json`, JSON.stringify(ghost(`ghost${i}`))])]));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('status --all --specs: one table, the cluster that is down first and broken; exit 1; --json has both', LONG, async (t) => {
    const text = await cli('status', '--all', '--specs', dirs.both);
    t.diagnostic(text.stdout);
    assert.equal(text.code, 1, text.stdout + text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4, text.stdout);
    assert.equal(lines[0], '2 stanzas: 1 ok, 1 broken, 0 unreadable');
    assert.match(lines[1], /^ {2}STANZA +REPOSITORY +FULL BACKUP +AGE +ARCHIVING +STANDBYS +WORST LAG +LAST DRILL +VERDICT$/);
    const repo = literally(f.spec.repository.host);
    assert.match(lines[2], new RegExp(`^ {2}ghost +${repo} +none +- +\\? +- +- +- +BROKEN: .+$`));
    assert.match(lines[3], new RegExp(`^ {2}demo +${repo} +\\d{8}-\\d{6}F +\\d+[smh] +ok +2/2 +\\d.* +- +ok$`));
    assert.doesNotMatch(text.stdout, /\x1b/, 'no colour when stdout is no terminal');

    const json = await cli('status', '--specs', dirs.both, '--json');
    assert.equal(json.code, 1, json.stderr);
    const r = JSON.parse(json.stdout) as FleetReport;
    assert.equal(r.ok, false);
    assert.deepEqual(r.counts, { stanzas: 2, unreadable: 0, broken: 1, ok: 1 });
    assert.deepEqual(r.stanzas.map((s) => [s.stanza, s.verdict, s.file]), [['ghost', 'broken', join(dirs.both, 'ghost.yaml')], ['demo', 'ok', join(dirs.both, 'demo.json')]]);
    assert.match(r.stanzas[0].report!.problems.join('\n'), /^stanza ghost: pgBackRest status 1 \(missing stanza path\)$/m);
    assert.equal(r.stanzas[1].report!.backups.length, 1);

    const good = await cli('status', '--specs', dirs.good);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /^1 stanza: 1 ok, 0 broken, 0 unreadable\n/);
  });

  test('status of 50 stanzas: read concurrently, in seconds', LONG, async (t) => {
    const started = Date.now();
    const r = await cli('status', '--specs', dirs.fifty, '--json');
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(`status --specs of 50 stanzas took ${seconds.toFixed(1)} s`);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as FleetReport).counts, { stanzas: 50, unreadable: 0, broken: 49, ok: 1 });
    // One at a time, each read's workflow and SSH round trips would take over a minute.
    assert.ok(seconds < 30, `${seconds} s`);
  });

  test('schedule apply --specs applies each spec in turn', LONG, async () => {
    const r = await cli('schedule', 'apply', '--specs', dirs.both);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, 'stanza demo: no schedules in the spec and none on the server\nstanza ghost: no schedules in the spec and none on the server\n');
  });

  test('backup --specs: a bad spec refuses all and starts nothing; good specs back up', LONG, async () => {
    const backups = async () => {
      let n = 0;
      for await (const _ of f.client.workflow.list({ query: "WorkflowType = 'backupStanza'" })) n++;
      return n;
    };
    const refused = await cli('backup', '--specs', dirs.bad, '--type', 'incr');
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, new RegExp(`^${literally(dirs.bad)}: 1 of 2 spec files cannot be used:\n {2}${literally(join(dirs.bad, 'other.json'))}: nodes\\[0\\]\\.role: `));

    const made = await cli('backup', '--specs', dirs.good, '--type', 'incr');
    assert.equal(made.code, 0, made.stdout + made.stderr);
    assert.match(made.stdout, /^demo: workflow \S+\ndemo: incr backup \d{8}-\d{6}F_\d{8}-\d{6}I in [\d.]+ s\n1 stanza: 1 ok, 0 failed\n$/);
    // The refused run's spec file beside the bad one was demo's: had it started anything, there would be two.
    await until('the backup to be listed', async () => (await backups()) >= 1);
    assert.equal(await backups(), 1);
  });
});
