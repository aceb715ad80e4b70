import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import fc from 'fast-check';
import { fetchStatusFacts } from '../../src/commands/status';
import { labExec } from '../../dev/lab';
import { TASK_QUEUE } from '../../src/paths';
import { asUser, script, withStdin, type Command } from '../../src/shell/command';
import { SshPool } from '../../src/remote/ssh-pool';
import type { HostAddress } from '../../src/remote/types';
import { formatPath } from '../../src/spec/errors';
import type { Spec } from '../../src/spec/schema';
import { inputIssues } from '../../src/spec/validate';
import { ProvisionFixture } from './fixture';

/*
 * Property tests against the real thing: generated strings through the real shell of a lab host,
 * and specs full of shell metacharacters through validation and a real worker. A canary file that
 * any executed payload would create must exist on no host and not on the worker's machine.
 */

const CANARY = `stbcanary-${randomBytes(4).toString('hex')}`;
const TOUCH = `touch /tmp/${CANARY}`;
const LONG = { timeout: 10 * 60_000 };

// The ways a value breaks out of a command line, a config file or an ssh invocation.
const ESCAPES: ((c: string) => string)[] = [
  (c) => `$(${c})`,
  (c) => `\`${c}\``,
  (c) => `;${c}`,
  (c) => `|${c}`,
  (c) => `&&${c}&&`,
  (c) => `'$(${c})'`,
  (c) => `"$(${c})"`,
  (c) => `'; ${c}; '`,
  (c) => `"; ${c}; "`,
  (c) => `\n${c}\n`,
  (c) => `\r\n${c}`,
  (c) => `-oProxyCommand=${c}`,
  (c) => `--exec=${c}`,
  (c) => ` -c '${c}'`,
  (c) => `\${IFS}${c.replace(/ /g, '${IFS}')}`,
  (c) => `x]\n[global]\nexec=${c}`,
  (c) => `{${c},x}`,
  () => `> /tmp/${CANARY}`,
];
const META = ['$', '`', '"', "'", '\\', ';', '|', '&', '\n', '\r', '\t', ' ', '-', '*', '?', '~', '!', '#', '(', ')', '{', '}', '<', '>', '[', ']', '=', '%', '\x01', '\x7f', 'é', '\u2028'];

interface Field {
  readonly path: string;
  get(s: Spec): string;
  set(s: Spec, v: string): void;
}

type Obj = Record<string, unknown>;

/** Every string field of `s` (and the keys of repository.options), as spec paths with setters. */
function stringFields(s: Spec): Field[] {
  const out: Field[] = [];
  const walk = (o: Obj, at: (string | number)[]) => {
    for (const [k, v] of Object.entries(o)) {
      const path = [...at, Array.isArray(o) ? Number(k) : k];
      if (typeof v === 'string') {
        const name = formatPath(path);
        const parent = (x: Spec) => path.slice(0, -1).reduce<Obj>((acc, p) => acc[p] as Obj, x as unknown as Obj);
        out.push({ path: name, get: (x) => parent(x)[k] as string, set: (x, val) => (parent(x)[k] = val) });
      } else if (v && typeof v === 'object') {
        walk(v as Obj, path);
      }
    }
  };
  walk(s as unknown as Obj, []);
  out.push({
    path: 'repository.options.<name>',
    get: () => 'compress-type',
    set: (x, val) => (x.repository.options = { [val]: 'zst' }),
  });
  return out;
}

function issueMatches(field: Field, paths: string[]): boolean {
  if (field.path === 'repository.options.<name>') return paths.some((p) => p.startsWith('repository.options.'));
  return paths.includes(field.path);
}

describe('spec guard: hostile input never reaches a shell', { timeout: 30 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stba', '10.231.111.0/24');
  // Files and directories this test made on the worker's machine (hostile key paths), removed at the end.
  const made: string[] = [];
  let pool: SshPool;

  before(async () => {
    await f.setUp();
    pool = new SshPool({ user: 'root', privateKeyFile: f.lab.privateKeyFile, knownHostsFile: f.lab.knownHostsFile });
  }, { timeout: 10 * 60_000 });
  after(async () => {
    await pool?.close();
    await f.teardown();
    for (const p of made) rmSync(p, { recursive: true, force: true });
  });

  /** Hosts (and the worker's machine) where the canary exists: must stay empty. */
  async function canaries(): Promise<string[]> {
    const found: string[] = [];
    for (const h of f.lab.hosts) {
      const r = await labExec(f.lab, h.name, ['find', '/tmp', '/var/tmp', '/', '-xdev', '-maxdepth', '1', '-name', `${CANARY}*`]);
      if (r.stdout.trim()) found.push(`${h.name}: ${r.stdout.trim()}`);
    }
    for (const dir of ['/tmp', '/var/tmp', process.cwd()]) {
      for (const e of readdirSync(dir)) if (e.startsWith(CANARY)) found.push(`worker: ${dir}/${e}`);
    }
    return found;
  }

  function hostAddress(name: string): HostAddress {
    const h = f.lab.hosts.find((x) => x.name === name)!;
    return { name: h.name, host: h.ip };
  }

  // Well-formed Unicode (the SSH exec request and our Command values carry text), no NUL.
  const anyText = fc
    .oneof(fc.string({ unit: 'binary-ascii', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ unit: fc.constantFrom(...META), maxLength: 30 }))
    .filter((s) => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s);

  test('quoting: any text but NUL round-trips unchanged through the real shell, as arguments and as stdin', LONG, async (t) => {
    const pg1 = hostAddress('pg1-srv');
    let runs = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(anyText, { minLength: 1, maxLength: 4 }), anyText, fc.boolean(), async (args, input, asPostgres) => {
        runs++;
        const as = (c: Command) => (asPostgres ? asUser('postgres', c) : c);
        const echoed = await pool.run(pg1, as(script('printf "%s\\0" "$@"', ...args)));
        assert.equal(echoed.code, 0, echoed.stderr);
        assert.deepEqual(echoed.stdout.split('\0').slice(0, -1), args);
        const piped = await pool.run(pg1, as(withStdin(script('cat'), input)));
        assert.equal(piped.code, 0, piped.stderr);
        assert.equal(piped.stdout, input);
      }),
      { numRuns: 300 },
    );
    t.diagnostic(`${runs} generated cases (${runs * 2} remote commands) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(await canaries(), []);
  });

  test('spec: every string field filled with shell metacharacters is refused (path named) or inert on a real worker', LONG, async (t) => {
    const base: Spec = { ...structuredClone(f.spec), repository: { ...structuredClone(f.spec.repository), options: { 'compress-type': 'zst' } }, backups: { fromStandby: false, schedule: { full: '30 1 * * 0', timezone: 'UTC', catchupWindow: '1h' }, maxAge: { full: '8d', any: '26h' } } };
    assert.deepEqual(inputIssues(base), []);
    const fields = stringFields(base);
    const refused = new Map<string, number>();
    const accepted = new Map<string, Spec>();
    const payload = fc.record({
      escape: fc.integer({ min: 0, max: ESCAPES.length - 1 }),
      before: fc.string({ unit: fc.constantFrom(...META), maxLength: 3 }),
      after: fc.string({ unit: fc.constantFrom(...META), maxLength: 3 }),
      keep: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: fields.length - 1 }), payload, (i, p) => {
        const field = fields[i];
        const s = structuredClone(base);
        const value = `${p.keep ? field.get(base) : ''}${p.before}${ESCAPES[p.escape](TOUCH)}${p.after}`;
        field.set(s, value);
        const paths = inputIssues(s).map((x) => x.path);
        if (paths.length > 0) {
          assert.ok(issueMatches(field, paths), `${field.path} = ${JSON.stringify(value)} refused at ${paths.join(', ')}`);
          refused.set(field.path, (refused.get(field.path) ?? 0) + 1);
        } else if (!accepted.has(field.path)) {
          accepted.set(field.path, s);
        }
      }),
      { numRuns: 2000 },
    );
    // Every field was tried. Only the worker's own file paths (never handed to a shell) pass with
    // shell characters; anything else that passes kept the payload's words but lost every character
    // a shell acts on, even inside double quotes, and cannot be read as an option (e.g. the option
    // value "zst-oProxyCommand=touch /tmp/x"): inert by construction.
    assert.deepEqual([...new Set([...refused.keys(), ...accepted.keys()])].sort(), fields.map((x) => x.path).sort());
    const inert = (v: string) => !v.startsWith('-') && !/[$`"'\\;|&<>(){}[\]*?~!#\n\r\t]/.test(v);
    for (const [p, s] of accepted) {
      if (['ssh.knownHostsFile', 'ssh.privateKeyFile'].includes(p)) continue;
      const field = fields.find((x) => x.path === p)!;
      assert.ok(inert(field.get(s)), `${p} accepted a hostile value: ${JSON.stringify(field.get(s))}`);
      accepted.delete(p);
    }
    t.diagnostic(`refused per field: ${JSON.stringify(Object.fromEntries(refused))}; accepted: ${[...accepted.keys()].join(', ') || 'none'}`);

    // The accepted ones run for real: files at those hostile paths make the spec work as it is.
    for (const [path, s] of accepted) {
      for (const [file, from] of [[s.ssh.privateKeyFile, f.lab.privateKeyFile], [s.ssh.knownHostsFile, f.lab.knownHostsFile]] as const) {
        if (file === from) continue;
        const dir = mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        if (dir) made.push(dir);
        copyFileSync(from, file);
        made.push(file);
      }
      const facts = await fetchStatusFacts(f.client, s);
      assert.equal(facts.stanza, s.stanza, path);
      assert.ok(facts.repository.host && facts.primary.name, `${path}: status read the hosts`);
      t.diagnostic(`${path} = ${JSON.stringify(path === 'ssh.privateKeyFile' ? s.ssh.privateKeyFile : path === 'ssh.knownHostsFile' ? s.ssh.knownHostsFile : s.replication.password)}: stanzaStatus completed`);
    }
    assert.deepEqual(await canaries(), []);
  });

  test('a hostile spec started straight through the Temporal client fails non-retryable, naming the field, before any activity', LONG, async () => {
    const hostile = (mutate: (s: Spec & Record<string, any>) => void): Spec => {
      const s = structuredClone(f.spec) as Spec & Record<string, any>;
      mutate(s);
      return s;
    };
    const id = () => `stb-hostile-${randomBytes(3).toString('hex')}`;
    const cases: [string, unknown[], string[]][] = [
      // The issue's example: a stanza lands in archive_command, run by the primary's shell.
      ['provisionCluster', [hostile((s) => (s.stanza = `demo$(${TOUCH})`))], ['stanza']],
      // pgBackRest repeats options on the command line it sends over SSH: a remote shell would run this.
      ['provisionCluster', [hostile((s) => (s.repository.options = { 'compress-type': `zst$(${TOUCH})` }))], ['repository.options.compress-type']],
      ['stanzaStatus', [hostile((s) => (s.nodes[1].host = `-oProxyCommand=${TOUCH}`))], ['nodes[1].host']],
      ['stanzaStatus', [hostile((s) => ((s.postgres.control = { type: 'pg_ctlcluster', cluster: '--help' }), (s.postgres.binDir = `/usr/lib/postgresql/15/bin;${TOUCH}`)))], ['postgres.control.cluster', 'postgres.binDir']],
      ['backupStanza', [f.spec, { type: `full --exec=${TOUCH}` }], ['request.type']],
      ['backupStanza', [hostile((s) => (s.backups = { schedule: { full: '99 99 * * *' } })), { type: 'full' }], ['backups.schedule.full']],
      ['rebuildStandby', [f.spec, `-oProxyCommand=${TOUCH}`], ['node']],
      ['rebuildStandby', [f.spec, 'pg2-srv', { deltaBy: `size;${TOUCH}` }], ['options.deltaBy']],
      ['rebuildStandby', [hostile((s) => (s.replication.user = `-U postgres`)), 'pg2-srv'], ['replication.user']],
      ['provisionCluster', [`{"stanza": "$(${TOUCH})"}`], ['(root)']],
    ];
    for (const [workflow, args, paths] of cases) {
      const handle: WorkflowHandle = await f.client.workflow.start(workflow, { taskQueue: TASK_QUEUE, workflowId: id(), args, workflowExecutionTimeout: '2 minutes' });
      const e = await handle.result().then(
        () => assert.fail(`${workflow} accepted ${paths.join(', ')}`),
        (err: unknown) => err,
      );
      assert.ok(e instanceof WorkflowFailedError, `${workflow}: ${String(e)}`);
      assert.ok(e.cause instanceof ApplicationFailure, `${workflow}: ${String(e.cause)}`);
      assert.equal(e.cause.type, 'InvalidSpec');
      assert.equal(e.cause.nonRetryable, true);
      for (const p of paths) assert.ok(e.cause.message.includes(`  ${p}: `), `${workflow}: ${p} not named in\n${e.cause.message}`);
      const history = await handle.fetchHistory();
      const scheduled = (history.events ?? []).filter((ev) => ev.activityTaskScheduledEventAttributes);
      assert.deepEqual(scheduled, [], `${workflow}: an activity was scheduled`);
    }
    assert.deepEqual(await canaries(), []);
  });
});
