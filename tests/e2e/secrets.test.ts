import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { failureMessage, startProvision } from '../../src/client';
import { startBackup } from '../../src/commands/backup';
import { TASK_QUEUE } from '../../src/paths';
import { scramMatches } from '../../src/render/scram';
import { applySchedules } from '../../src/schedules';
import type { Spec } from '../../src/spec/schema';
import type { BackupOutcome } from '../../src/workflows/backup';
import { budgetWorkflowId } from '../../src/budget/protocol';
import { rebuildWorkflowId, scheduleId } from '../../src/workflow-ids';
import type { RebuildResult } from '../../src/workflows/rebuild';
import { ProvisionFixture } from './fixture';
import { runCli } from './harness';
import { confirmedRebuild } from './confirmed';
import { leaks } from './leaks';

const LONG = { timeout: 10 * 60_000 };
const CIPHER_ENV = 'STANZACTL_SECRET_E2E_CIPHER_PASS';
const DATA = '/var/lib/postgresql/15/main';
const HOSTS = ['pg1-srv', 'pg2-srv', 'pg3-srv', 'backup-srv'];
// A worker variable outside the secret prefix, and a secret whose value would add ini lines: specs naming them are refused.
const REFUSED_ENV = ['STANZACTL_E2E_NOT_A_SECRET', 'STANZACTL_SECRET_E2E_INJECTED'] as const;

describe('secrets: SCRAM verifier for the replication role, encrypted repository with a referenced cipher pass', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stfa', '10.231.151.0/24');
  // Hex: a secret's value is held to the rule of a literal option, which takes no leading "-".
  const passphrase = randomBytes(24).toString('hex');
  // A cipher pass a site put in a conf.d fragment, read from the host by stanzactl.
  const fragmentPass = randomBytes(24).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-secrets-'));
  f.workerEnv[CIPHER_ENV] = passphrase;
  const notSecret = randomBytes(18).toString('hex');
  const injected = `${randomBytes(18).toString('hex')}\n[global]\nrepo1-host-cmd=/tmp/x`;
  f.workerEnv[REFUSED_ENV[0]] = notSecret;
  f.workerEnv[REFUSED_ENV[1]] = injected;
  const password = () => f.workerEnv.STANZACTL_SECRET_REPLICATION_PASSWORD;
  const passwords = [password()];
  const storedVerifier = () => f.checks.psql('pg1-srv', "SELECT rolpassword FROM pg_authid WHERE rolname = 'replic_user'");
  let spec: Spec;
  const runs: { workflowId: string; runId: string }[] = [];
  const track = <H extends { workflowId: string; firstExecutionRunId: string }>(h: H): H => (runs.push({ workflowId: h.workflowId, runId: h.firstExecutionRunId }), h);
  const sh = (host: string, script: string, user?: string) => f.checks.sh(host, ['bash', '-c', script], user);
  const provision = async () => {
    const h = track(await startProvision(f.client, spec));
    return (await h.result()) as { changed: boolean; steps: { name: string; changed?: boolean; detail?: string }[] };
  };

  before(async () => {
    await f.setUp();
    spec = {
      ...f.spec,
      repository: { ...f.spec.repository, options: { 'repo1-cipher-type': 'aes-256-cbc', 'repo1-cipher-pass': { env: CIPHER_ENV } } },
      backups: { schedule: { full: '0 3 * * 0' } },
    };
    // A primary that logs every statement and keeps statement texts: provision adopts it as it is.
    await sh('pg1-srv', `pg_createcluster 15 main --locale C.UTF-8 -o log_statement=all -o shared_preload_libraries=pg_stat_statements -- --data-checksums >/dev/null
      pg_ctlcluster 15 main start
      runuser -u postgres -- psql -Xqc 'CREATE EXTENSION pg_stat_statements'`);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await f.teardown();
  });

  test('provision: standbys restored from the encrypted repository and streaming; the password reached the server only as a SCRAM verifier', LONG, async () => {
    const r = await provision();
    assert.match(r.steps.find((s) => s.name === 'replication access')?.detail ?? '', /role replic_user created/);
    await f.checks.assertHealthy();

    const log = await sh('pg1-srv', 'cat /var/log/postgresql/postgresql-15-main.log');
    assert.match(log, /statement: CREATE ROLE "replic_user"/, 'log_statement=all logged the role statement');
    assert.ok(!log.includes(password()), 'the replication password is in the primary\'s server log');
    assert.match(log, /statement: CREATE ROLE "replic_user" WITH LOGIN REPLICATION PASSWORD 'SCRAM-SHA-256\$4096:/);
    const statements = await f.checks.psql('pg1-srv', 'SELECT query FROM pg_stat_statements');
    assert.match(statements, /CREATE ROLE "replic_user"/, 'pg_stat_statements kept the role statement');
    assert.ok(!statements.includes(password()), 'the replication password is in pg_stat_statements');
    const stored = await storedVerifier();
    assert.ok(await scramMatches(stored, password()), `the stored verifier is one of the password: ${stored.slice(0, 20)}...`);
  });

  test('provision again: the role is left alone (its verifier matches) and nothing changes', LONG, async () => {
    const stored = await storedVerifier();
    await f.checks.assertProvisionChangesNothing(provision);
    assert.equal(await storedVerifier(), stored, 'no new salt: the password was not sent again');
  });

  test('a new password: the role gets a verifier of it by ALTER ROLE, and the standbys log in with it', LONG, async () => {
    const old = password();
    f.workerEnv.STANZACTL_SECRET_REPLICATION_PASSWORD = randomBytes(12).toString('base64url');
    passwords.push(password());
    await f.crashWorker(); // a worker reads its secrets from its environment
    const r = await provision();
    assert.match(r.steps.find((s) => s.name === 'replication access')?.detail ?? '', /role replic_user given LOGIN, REPLICATION and the spec's password/);
    const stored = await storedVerifier();
    assert.ok((await scramMatches(stored, password())) && !(await scramMatches(stored, old)));
    const log = await sh('pg1-srv', 'cat /var/log/postgresql/postgresql-15-main.log');
    assert.ok(!log.includes(password()), 'the new password is in the primary\'s server log');
    assert.match(log, /statement: ALTER ROLE "replic_user" WITH LOGIN REPLICATION PASSWORD 'SCRAM-SHA-256\$4096:/);
    // Cut the standbys' connections: they come back only by logging in with the new password from .pgpass.
    const senders = async () => (await f.checks.psql('pg1-srv', "SELECT pid FROM pg_stat_replication WHERE state = 'streaming'")).split('\n').filter(Boolean);
    const before = await senders();
    assert.equal(before.length, 2);
    await f.checks.psql('pg1-srv', 'SELECT pg_terminate_backend(pid) FROM pg_stat_replication');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = await senders();
      if (now.length === 2 && now.every((pid) => !before.includes(pid))) break;
      assert.ok(Date.now() < deadline, `the standbys did not reconnect with the new password (walsenders ${now.join(', ')})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  test('the repository is encrypted, and the cipher pass is only in the repository host\'s pgbackrest.conf (0640, root:repo group)', LONG, async () => {
    const info = JSON.parse(await f.checks.pgbackrest('info', '--output=json')) as { cipher: string }[];
    assert.equal(info[0].cipher, 'aes-256-cbc');
    const path = `${spec.repository.path}/backup/${spec.stanza}/backup.info`;
    // openssl's salted format: pgBackRest encrypts its info files too, so no "[backrest]" header in clear.
    assert.equal(await sh('backup-srv', `head -c 8 ${path}`), 'Salted__');
    assert.doesNotMatch(await sh('backup-srv', `cat ${path} | tr -c '[:print:]\\n' .`), /\[backrest\]|db-system-id/);
    const conf = await sh('backup-srv', 'cat /etc/pgbackrest.conf');
    assert.ok(conf.includes(`repo1-cipher-pass=${passphrase}`));
    assert.equal((await sh('backup-srv', 'stat -c "%U:%G %a" /etc/pgbackrest.conf')).trim(), `root:${spec.repository.user} 640`);
    for (const n of ['pg1-srv', 'pg2-srv', 'pg3-srv']) {
      // Debian's packaged file has commented-out examples (#repo1-cipher-pass=...): only a live key counts.
      const nodeConf = await sh(n, 'cat /etc/pgbackrest.conf');
      assert.doesNotMatch(nodeConf, /^\s*repo\d+-cipher/m, n);
      assert.ok(!nodeConf.includes(passphrase), n);
    }
  });

  test('a backup and a rebuild from the encrypted repository', LONG, async () => {
    const b = track(await startBackup(f.client, spec, 'full'));
    const outcome = (await b.result()) as BackupOutcome;
    assert.equal(outcome.status, 'done');

    await sh('pg2-srv', `pg_ctlcluster 15 main stop -m immediate && rm -rf ${DATA}`);
    const h = track(await f.client.workflow.start('rebuildStandby', { taskQueue: TASK_QUEUE, workflowId: rebuildWorkflowId(spec, 'pg2-srv'), args: [spec, 'pg2-srv', { confirm: confirmedRebuild(spec, 'pg2-srv') }] }));
    assert.equal(((await h.result()) as RebuildResult).node, 'pg2-srv');
    await f.checks.rowReplicates();
    assert.equal((await f.checks.fullBackups()).length, 2);
  });

  test('a conf.d fragment setting the cipher pass: provision refused naming fragment, section and key; no pass in the failure, the CLI output or the worker log', LONG, async () => {
    const fragment = '/etc/pgbackrest/conf.d/zz-site.conf';
    const specFile = join(dir, 'spec.json');
    writeFileSync(specFile, JSON.stringify(spec));
    // For backups only: preflight's `pgbackrest info` still reads the repository with the spec's pass.
    await sh('backup-srv', `mkdir -p /etc/pgbackrest/conf.d && printf '[demo:backup]\\nrepo1-cipher-pass=%s\\n' ${fragmentPass} > ${fragment}`);
    const conf = await sh('backup-srv', 'cat /etc/pgbackrest.conf');
    const logFrom = f.worker.output.length;
    try {
      const r = await runCli(['provision', '--spec', specFile], f.workerEnv);
      const cli = r.stdout + r.stderr;
      assert.notEqual(r.code, 0, cli);
      assert.match(cli, /zz-site\.conf sets repo1-cipher-pass=\(a secret, not shown\) in \[demo:backup\], which overrides stanzactl's repo1-cipher-pass=\(a secret, not shown\) in \[global\]/);
      const log = f.worker.output.slice(logFrom);
      assert.match(log, /zz-site\.conf sets repo1-cipher-pass/, 'the worker logged the refusal');
      for (const [what, text] of [['the CLI output', cli], ['the worker log', log]]) {
        assert.ok(!leaks(text, fragmentPass), `the fragment's cipher pass is in ${what}`);
        assert.ok(!leaks(text, passphrase), `the spec's cipher pass is in ${what}`);
      }
      assert.equal(await sh('backup-srv', 'cat /etc/pgbackrest.conf'), conf, 'the refusal changed the file');
    } finally {
      await sh('backup-srv', `rm -f ${fragment}`);
    }
  });

  test('{env:} outside the secret prefix, and a value a literal could not be: refused naming the variable, nothing changed, no value shown', LONG, async () => {
    const conf = await sh('backup-srv', 'cat /etc/pgbackrest.conf');
    const [outside, injecting] = REFUSED_ENV;
    for (const [name, value, message] of [
      [outside, notSecret, /environment variable STANZACTL_E2E_NOT_A_SECRET is not one the worker gives out as a secret: only names starting with STANZACTL_SECRET_/],
      [injecting, injected, /the value in environment variable STANZACTL_SECRET_E2E_INJECTED is refused: letters, digits/],
    ] as const) {
      const h = track(await startProvision(f.client, { ...spec, repository: { ...spec.repository, options: { ...spec.repository.options, 'repo1-cipher-pass': { env: name } } } }));
      await assert.rejects(h.result(), (e) => {
        assert.match(failureMessage(e), message);
        assert.ok(!leaks(failureMessage(e), value.split('\n')[0]), failureMessage(e));
        return true;
      });
    }
    assert.equal(await sh('backup-srv', 'cat /etc/pgbackrest.conf'), conf, 'a refusal changed the file');
  });

  test('preflight reads the encrypted backup.info: a primary of another cluster is refused before anything changes', LONG, async () => {
    // pg3-srv becomes the primary of a new cluster, with a system identifier of its own.
    await sh('pg3-srv', 'pg_dropcluster 15 main --stop && pg_createcluster 15 main --locale C.UTF-8 -- --data-checksums >/dev/null && pg_ctlcluster 15 main start');
    const repoConf = await sh('backup-srv', 'cat /etc/pgbackrest.conf');
    const other: Spec = { ...spec, nodes: [{ ...spec.nodes.find((n) => n.name === 'pg3-srv')!, role: 'primary' }] };
    const h = track(await startProvision(f.client, other));
    await assert.rejects(h.result(), (e) => {
      assert.match(failureMessage(e), /the repository on \S+ already holds stanza "demo" for another cluster/);
      return true;
    });
    assert.equal(await sh('backup-srv', 'cat /etc/pgbackrest.conf'), repoConf);
  });

  test('neither secret is in any workflow history, the Schedule, or a log on any host', LONG, async () => {
    await applySchedules(f.client, spec);
    const schedule = await f.client.schedule.getHandle(scheduleId(spec, 'full')).describe();
    assert.ok(!leaks(schedule, passphrase), 'the cipher pass is in the Schedule');
    assert.ok(leaks(schedule, CIPHER_ENV), 'the Schedule carries the reference');

    // The scan can see a secret: a workflow started with the value itself (never run: no worker polls that queue).
    const canary = await f.client.workflow.start('stanzaStatus', {
      taskQueue: 'stanzactl-e2e-nobody', workflowId: 'secrets-canary',
      args: [{ ...spec, repository: { ...spec.repository, options: { 'repo1-cipher-pass': passphrase } } }],
    });
    assert.ok(leaks(await canary.fetchHistory(), passphrase), 'the scan finds a cipher pass given as a value');
    await canary.terminate();

    // Every run the server knows (each provision run too), and those this test started.
    const all = new Map(runs.map((r) => [r.runId, r.workflowId]));
    for await (const w of f.client.workflow.list()) all.set(w.runId, w.workflowId);
    all.delete(canary.firstExecutionRunId);
    assert.ok(all.size >= 4, [...all.values()].join(' '));
    for (const [runId, id] of all) {
      const history = await f.client.workflow.getHandle(id, runId).fetchHistory();
      assert.ok(!leaks(history, passphrase), `${id} ${runId}: the cipher pass is in its history`);
      assert.ok(!leaks(history, fragmentPass), `${id} ${runId}: the fragment's cipher pass is in its history`);
      assert.ok(!leaks(history, notSecret), `${id} ${runId}: a worker variable outside the secret prefix is in its history`);
      assert.ok(!leaks(history, injected.split('\n')[0]), `${id} ${runId}: a refused secret value is in its history`);
      for (const pw of passwords) assert.ok(!leaks(history, pw), `${id} ${runId}: a replication password is in its history`);
      // The repository host's budget is given tickets and stanza names, never a spec: scanned all the same.
      if (id !== budgetWorkflowId(spec.repository.host)) assert.ok([CIPHER_ENV, ...REFUSED_ENV].some((name) => leaks(history, name)), `${id}: the scan sees the spec in the history`);
    }

    for (const host of HOSTS) {
      const logs = await sh(host, 'cat /var/log/pgbackrest/*.log /var/log/postgresql/*.log 2>/dev/null || true');
      assert.ok(!logs.includes(passphrase), `${host}: the cipher pass is in a log`);
      assert.ok(!logs.includes(fragmentPass), `${host}: the fragment's cipher pass is in a log`);
      for (const pw of passwords) assert.ok(!logs.includes(pw), `${host}: a replication password is in a log`);
    }
  });
});
