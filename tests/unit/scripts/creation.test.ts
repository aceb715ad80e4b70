import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runCreation } from '../../../src/host/cluster-creation';
import type { HostOps } from '../../../src/host/host-ops';
import { DEBIAN_CONFIG } from '../../../src/activities/standby';
import { program } from '../../../src/paths';
import type { Command } from '../../../src/shell/command';
import { isRoot, scratch } from './local-host';

// scripts/creation.sh run for real as root, with a marker in a temp directory and a body of the
// test's; the data directory belongs to `nobody`, as a cluster's belongs to its account.
const CREATION = program('host', 'creation');
const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout);
const skip = isRoot && Number.isInteger(nobody) ? false : 'needs root and user nobody';

describe('marked cluster creation', { skip }, () => {
  const { dir, cleanup } = skip ? { dir: '', cleanup: () => undefined } : scratch('creation');
  after(cleanup);
  let n = 0;
  /** A fresh data and config directory of nobody's, and a marker path in a directory not made yet. */
  const place = () => {
    const base = join(dir, String(n++));
    const data = join(base, 'data');
    const conf = join(base, 'conf');
    for (const d of [base, data, conf]) { mkdirSync(d, { recursive: true }); chownSync(d, nobody, nobody); }
    return { data, conf, marker: join(base, 'pending', 'marker'), log: join(base, 'body.log') };
  };
  const BODY = 'echo "body $*" >> "$LOG"; [ "${1:-}" != fail ] || exit 1; echo body-output';
  const create = (p: ReturnType<typeof place>, strict: boolean, ...args: string[]) =>
    spawnSync('bash', ['-c', CREATION, 'stanzactl', p.marker, p.data, p.conf, strict ? 'strict' : 'lenient', 'nobody', BODY, ...args],
      { encoding: 'utf8', env: { ...process.env, LOG: p.log } });

  test('a fresh creation runs the body with its arguments, marks it meanwhile, and says created', () => {
    const p = place();
    const r = create(p, true, 'a b', 'c');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['body-output', 'created']);
    assert.equal(readFileSync(p.log, 'utf8'), 'body a b c\n');
    assert.ok(!existsSync(p.marker), 'the marker goes once the body is done');
  });

  test('a body that fails leaves the marker, and the next creation removes what it made, as the owner, and says recreated', () => {
    const p = place();
    assert.notEqual(create(p, true, 'fail').status, 0);
    assert.equal(readFileSync(p.marker, 'utf8'), `${p.data}\n`);
    for (const [d, f] of [[p.data, 'PG_VERSION'], [p.conf, 'postgresql.conf'], [p.conf, 'keep.me']]) {
      writeFileSync(join(d, f), 'x');
      chownSync(join(d, f), nobody, nobody);
    }
    const r = create(p, true, 'again');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').pop(), 'recreated');
    assert.deepEqual(readdirSync(p.data), []);
    assert.deepEqual(readdirSync(p.conf), ['keep.me'], 'only the files pg_createcluster writes go');
  });

  test('refusals (exit 3): files but no marker in a strict creation, a marker over a directory a server has run on', () => {
    const p = place();
    writeFileSync(join(p.data, 'foreign'), 'x');
    const strict = create(p, true);
    assert.equal(strict.status, 3);
    assert.match(strict.stderr, /holds files but no PostgreSQL cluster/);
    assert.equal(create(p, false).status, 0, 'a lenient creation goes ahead');
    const q = place();
    assert.notEqual(create(q, true, 'fail').status, 0);
    writeFileSync(join(q.data, 'postmaster.opts'), 'x');
    const ran = create(q, true);
    assert.equal(ran.status, 3);
    assert.match(ran.stderr, /a server has run on it since/);
    assert.ok(existsSync(join(q.data, 'postmaster.opts')));
  });
});

describe('check-then-act as root under a directory the database account owns', () => {
  const capture = async (owner: string): Promise<Command> => {
    let seen: Command | undefined;
    const ops = { run: async (_h: unknown, c: Command) => { seen = c; return { code: 0, stdout: 'created\n', stderr: '' }; } } as unknown as HostOps;
    await runCreation(ops, { name: 'h', host: 'h' }, { kind: 'copy-config', dataDir: '/var/lib/postgresql/15/drill', configDir: '/etc/postgresql/15/drill', owner, strict: false, body: DEBIAN_CONFIG, args: ['15', 'drill', '/var/lib/postgresql/15/drill', owner, '5433'] }, 1000);
    return seen!;
  };

  test('one command, and every removal and pg_createcluster in it runs as the account, never as root', async () => {
    const c = await capture('postgres');
    assert.equal(c.user, undefined, 'the command itself is root\'s (it writes the marker in root\'s directory)');
    assert.equal(c.argv[9], DEBIAN_CONFIG, 'the body travels as an argument');
    const programs = `${c.argv[2] as string}\n${c.argv[9] as string}`;
    const acting = programs.split('\n').filter((l) => /\b(find|rm|pg_createcluster)\b/.test(l) && !/^\s*#/.test(l) && !l.includes('$marker'));
    assert.ok(acting.length >= 5, acting.join('\n'));
    for (const l of acting) assert.match(l, /runuser -u "\$(owner|user)" -- (find|rm|pg_createcluster)/, l);
    // The account is the data directory's owner, passed as an argument, never text in the body.
    assert.equal(c.argv[8], 'postgres');
  });

  test('a refusal of the script is a non-retryable CreationRefused', async () => {
    const ops = { run: async () => ({ code: 3, stdout: '', stderr: '/d holds files\n' }) } as unknown as HostOps;
    await assert.rejects(runCreation(ops, { name: 'h', host: 'h' }, { kind: 'copy-config', dataDir: '/d', owner: 'postgres', strict: true, body: 'true', args: [] }, 1000),
      (e: Error & { type?: string; nonRetryable?: boolean }) => e.type === 'CreationRefused' && e.nonRetryable === true && /h: \/d holds files/.test(e.message));
  });
});
