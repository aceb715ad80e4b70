import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { failureMessage } from '../../src/client';
import type { Spec } from '../../src/spec/schema';
import { PROGRESS_QUERY, switchoverWorkflowId } from '../../src/workflow-ids';
import type { Progress, StepProgress } from '../../src/workflows/progress';
import { ClusterChecks } from './cluster-checks';
import { provisionedCluster, type ProvisionFixture } from './fixture';
import { runCli, until } from './harness';
import { recordHistory } from './history';
import { leaks } from './leaks';

const LONG = { timeout: 10 * 60_000 };
const RESULT = /switchover of stanza \S+ done: (\S+) is the primary on timeline (\d+)/;

export interface SwitchoverOptions {
  /** Write the switchover's history for tests/histories (STANZACTL_RECORD_HISTORY): one layout does. */
  readonly recordHistory: boolean;
}

/**
 * The tests of `stanzactl switchover`, declared inside the caller's describe() for fixture `f` (a
 * lab of pg1-srv the primary, pg2-srv and pg3-srv its standbys, provisioned by the hooks declared
 * here): refusals that change nothing, pg1-srv -> pg2-srv with no data loss, and back to pg1-srv
 * with the worker SIGKILLed twice in the middle (the old primary stopping, the target promoted).
 */
export function switchoverTests(f: ProvisionFixture, opts: SwitchoverOptions): void {
  provisionedCluster(f);
  // The spec as a user has it in a file, never edited: the switchover must leave it as it was.
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-switchover-spec-'));
  const specFile = join(dir, 'spec.json');
  let specText = '';
  before(() => {
    specText = JSON.stringify(f.spec, null, 2);
    writeFileSync(specFile, specText);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (...args: string[]) => runCli([...args, '--spec', specFile], f.workerEnv);

  const stanza = () => f.spec.stanza;
  const names = () => f.spec.nodes.map((n) => n.name);
  const addressOf = (name: string) => f.spec.nodes.find((n) => n.name === name)!.host ?? name;
  const psql = (host: string, sql: string) => f.checks.psql(host, sql);
  /** The cluster with `primary` as the primary: what stanzactl's own checks read (application_name = node name). */
  const withPrimary = (primary: string) => new ClusterChecks(f.lab, { ...f.spec, nodes: f.spec.nodes.map((n) => ({ ...n, role: n.name === primary ? 'primary' : 'standby' })) } as Spec);
  const timelineOf = async (primary: string) => parseInt((await psql(primary, 'SELECT pg_walfile_name(pg_current_wal_lsn())')).slice(0, 8), 16);
  const inRecovery = async (host: string) => (await psql(host, 'SELECT pg_is_in_recovery()')) === 't';
  const receiver = async (host: string) => psql(host, "SELECT coalesce(status, '') || ' ' || coalesce(sender_host, '') || ' ' || coalesce(received_tli::text, '') FROM pg_stat_wal_receiver");
  const startTimes = async () => Object.fromEntries(await Promise.all(names().map(async (n) => [n, await psql(n, 'SELECT pg_postmaster_start_time()')] as const)));
  /** Each node: primary or standby, and whom it streams from. */
  const topology = async () => Object.fromEntries(await Promise.all(names().map(async (n) => [n, (await inRecovery(n)) ? `standby of ${await receiver(n)}` : 'primary'] as const)));

  /**
   * Samples every node's role (primary, standby or down) until stopped: the switchover must never
   * let two nodes run as primaries at once. stop() returns the samples that show two or more.
   */
  const watchers = new Set<() => Promise<unknown>>();
  after(() => Promise.all([...watchers].map((stop) => stop())));
  const watchPrimaries = () => {
    let watching = true;
    let samples = 0;
    const twoPrimaries: string[] = [];
    const role = (n: string) => psql(n, 'SELECT pg_is_in_recovery()').then((r) => (r === 'f' ? 'primary' : 'standby'), () => 'down');
    const loop = (async () => {
      while (watching) {
        const roles = await Promise.all(names().map(async (n) => `${n} ${await role(n)}`));
        samples++;
        if (roles.filter((r) => r.endsWith(' primary')).length > 1) twoPrimaries.push(`${new Date().toISOString()} ${roles.join(', ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const stop = async () => {
      watching = false;
      watchers.delete(stop);
      await loop;
      return twoPrimaries;
    };
    watchers.add(stop);
    return {
      stop: async () => {
        await stop();
        assert.ok(samples > 0, 'the roles were sampled');
        return twoPrimaries;
      },
    };
  };

  /**
   * Commits one row after another into `table` on `primary` until stopped (each its own psql: a
   * commit acknowledged when psql exits 0); the writes fail once it stops and after, read-only, as a
   * standby. stop() checks every acknowledged row is on `target`: a planned switchover loses none.
   */
  const keepWriting = (primary: string, table: string) => {
    let writing = true;
    const acked: string[] = [];
    let refused = 0;
    const loop = (async () => {
      for (let i = 0; writing; i++) {
        const marker = `w-${i}`;
        await psql(primary, `INSERT INTO ${table} VALUES ('${marker}')`).then(() => acked.push(marker), () => refused++);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const stop = async () => {
      writing = false;
      watchers.delete(stop);
      await loop;
    };
    watchers.add(stop);
    return {
      stop: async (target: string, t: TestContext) => {
        await stop();
        const rows = new Set((await psql(target, `SELECT marker FROM ${table} WHERE marker LIKE 'w-%'`)).split('\n').filter(Boolean));
        t.diagnostic(`${acked.length} writes on ${primary} acknowledged during the switchover (last ${acked.at(-1)}), ${refused} refused`);
        assert.ok(acked.length > 0, `writes on ${primary} were acknowledged before it stopped`);
        assert.ok(refused > 0, `writes on ${primary} were refused once it stopped`);
        assert.deepEqual(acked.filter((m) => !rows.has(m)), [], `every write ${primary} acknowledged is on ${target}`);
      },
    };
  };

  /** The table `table` (made if missing) and one row committed in it on `primary`; returns the row's marker. */
  const commitRow = async (primary: string, table: string) => {
    const marker = randomUUID();
    await psql(primary, `CREATE TABLE IF NOT EXISTS ${table} (marker text); INSERT INTO ${table} VALUES ('${marker}')`);
    return marker;
  };
  const hasRow = async (host: string, table: string, marker: string) => (await psql(host, `SELECT to_regclass('${table}') IS NOT NULL`)) === 't'
    && (await psql(host, `SELECT count(*) FROM ${table} WHERE marker = '${marker}'`)) === '1';

  /**
   * After a switchover to `primary` from timeline `before`: it alone runs out of recovery, on timeline
   * before + 1; every other node streams from its address on that timeline; its pg_stat_replication
   * names them; the row `marker` of `table` is on every node (on the new primary at once).
   */
  const assertSwitchedTo = async (primary: string, before: number, table: string, marker: string) => {
    assert.equal(await inRecovery(primary), false, `${primary} runs out of recovery`);
    assert.equal(await timelineOf(primary), before + 1, `${primary} writes on timeline ${before + 1}`);
    assert.ok(await hasRow(primary, table, marker), `the row committed before the switchover is on ${primary}: no data loss`);
    for (const n of names().filter((x) => x !== primary)) {
      await until(`${n} to stream from ${primary} (${addressOf(primary)}) on timeline ${before + 1}`,
        async () => (await inRecovery(n)) && (await receiver(n)) === `streaming ${addressOf(primary)} ${before + 1}`, 120_000, 500)
        .catch(async (e: Error) => assert.fail(`${e.message}; the nodes: ${JSON.stringify(await topology())}`));
      await until(`the row ${marker} on ${n}`, () => hasRow(n, table, marker), 60_000, 250);
    }
    const moved = withPrimary(primary);
    assert.deepEqual(await moved.streamingStandbys(), moved.standbys, `${primary}'s pg_stat_replication`);
    await moved.rowReplicates();
  };

  /** The workflow's steps: all done, every step of the contract there, the dangerous ones in order. */
  const assertSteps = (steps: StepProgress[], from: string, to: string) => {
    const others = names().filter((n) => n !== to);
    const at = (name: string | RegExp) => {
      const i = steps.findIndex((s) => (typeof name === 'string' ? s.name === name : name.test(s.name)));
      assert.ok(i >= 0, `step "${name}" among ${JSON.stringify(steps.map((s) => s.name))}`);
      return i;
    };
    assert.deepEqual(steps.filter((s) => s.status !== 'done').map((s) => `${s.name}: ${s.status} ${s.detail ?? ''}`), []);
    // No data loss: the old primary stops, the target replays all it wrote, then is promoted.
    const order = ['checkpoint', `stop ${from}`, `${to} replayed`, `promote ${to}`, `${to} accepts writes`];
    for (let i = 1; i < order.length; i++) assert.ok(at(order[i - 1]) < at(order[i]), `"${order[i - 1]}" before "${order[i]}"`);
    for (const n of others) assert.ok(at(`${to} accepts writes`) < at(`point ${n} at ${to}`), `"point ${n} at ${to}" after the promotion`);
    for (const s of ['confirmed plan', 'plan', 'replication access', 'conf', 'check', 'marker']) at(s);
    // The backup on the new timeline: the step is named by its kind ("incr backup").
    assert.ok(at('check') < at(/^(full|diff|incr) backup$/) && at(/^(full|diff|incr) backup$/) < at('marker'), 'conf, check, the backup, then the marker');
    for (const n of others) assert.ok(at('marker') < at(`${n} replays the marker`), `"${n} replays the marker" after "marker"`);
    assert.equal(steps[0].name, 'lock', 'the first step');
    // The stanza is released in the workflow's finally (assertReleased): a step "unlock", if shown, is the last.
    const unlock = steps.findIndex((s) => s.name === 'unlock');
    assert.ok(unlock === -1 || unlock === steps.length - 1, '"unlock" is the last step');
  };

  /** The switchover let go of the stanza: no lock entry on the repository host names its workflow. */
  const assertReleased = async () => {
    const held = await f.checks.sh('backup-srv', ['bash', '-c', 'grep -rls -- "$1 " /var/lib/stanzactl/locks || true', 'x', switchoverWorkflowId(f.spec)]);
    assert.equal(held.trim(), '', `lock entries of ${switchoverWorkflowId(f.spec)} left`);
  };

  /** The row committed on pg1-srv right before the first switchover. */
  let firstMarker = '';
  const progressOf = async () => (await f.client.workflow.getHandle(switchoverWorkflowId(f.spec)).query<Progress>(PROGRESS_QUERY)).steps;

  /** A normal incremental backup through the CLI and pgBackRest's own check pass, on timeline `timeline`. */
  const assertBackupsWork = async (timeline: number) => {
    await assertReleased();
    await f.checks.pgbackrest('check');
    const r = await cli('backup', '--type', 'incr');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /incr backup \d{8}-\d{6}F_\d{8}-\d{6}I in/);
    const info = JSON.parse(await f.checks.pgbackrest('info', '--output=json')) as { name: string; backup: { label: string; archive: { start: string } }[] }[];
    const newest = info.find((s) => s.name === stanza())!.backup.at(-1)!;
    assert.equal(parseInt(newest.archive.start.slice(0, 8), 16), timeline, `backup ${newest.label} starts on timeline ${timeline}`);
  };

  /** Stops or starts PostgreSQL on `host` as its control says, without stanzactl. */
  const pgControl = async (host: string, action: 'stop' | 'start') => {
    const pg = f.spec.postgres;
    const c = pg.control;
    if (c.type === 'pg_ctlcluster') {
      await f.checks.sh(host, ['pg_ctlcluster', String(pg.version), c.cluster, action, ...(action === 'stop' ? ['-m', 'fast'] : [])]);
    } else if (c.type === 'systemd') {
      await f.checks.sh(host, ['systemctl', action, c.unit]);
    } else {
      const log = `/var/log/stanzactl/${pg.osUser}/pg_ctl-${pg.port}.log`;
      const script = action === 'stop' ? '"$1/pg_ctl" -D "$2" -m fast -w stop' : '"$1/pg_ctl" -D "$2" -l "$3" -w -t 120 start';
      await f.checks.sh(host, ['bash', '-c', script, 'x', pg.binDir, pg.dataDir, log], pg.osUser);
    }
  };

  /** Nothing changed: pg1-srv is the primary on `timeline`, the standbys stream from it, no postmaster restarted. */
  const assertUnchanged = async (timeline: number, started: Record<string, string>) => {
    assert.equal(await inRecovery('pg1-srv'), false, 'pg1-srv is still the primary');
    assert.equal(await timelineOf('pg1-srv'), timeline, 'on the same timeline');
    for (const n of ['pg2-srv', 'pg3-srv']) assert.equal(await receiver(n), `streaming ${addressOf('pg1-srv')} ${timeline}`, `${n} streams from pg1-srv`);
    assert.deepEqual(await startTimes(), started, 'no postmaster was restarted');
    assert.equal(readFileSync(specFile, 'utf8'), specText, 'the spec file is unchanged');
    await assertReleased();
  };

  test('refused, changing nothing: --to the primary (exit 1), an unknown --to (exit 2), no --yes without a terminal', LONG, async (t: TestContext) => {
    const timeline = await timelineOf('pg1-srv');
    const started = await startTimes();

    const primary = await cli('switchover', '--to', 'pg1-srv', '--yes');
    t.diagnostic(`--to pg1-srv: exit ${primary.code}: ${primary.stderr.trim()}`);
    assert.equal(primary.code, 1, primary.stdout + primary.stderr);
    assert.match(primary.stderr, /already the primary/);
    await assertUnchanged(timeline, started);

    const unknown = await cli('switchover', '--to', 'pg9-srv', '--yes');
    t.diagnostic(`--to pg9-srv: exit ${unknown.code}: ${unknown.stderr.trim().split('\n')[0]}`);
    assert.equal(unknown.code, 2, unknown.stdout + unknown.stderr);
    await assertUnchanged(timeline, started);

    const unconfirmed = await cli('switchover', '--to', 'pg2-srv');
    t.diagnostic(`no --yes: exit ${unconfirmed.code}: ${unconfirmed.stderr.trim().split('\n')[0]}`);
    assert.notEqual(unconfirmed.code, 0, `no terminal, no --yes: ${unconfirmed.stdout}${unconfirmed.stderr}`);
    await assertUnchanged(timeline, started);
  });

  test('refused, changing nothing: --to a standby that does not stream (pg3-srv stopped)', LONG, async (t: TestContext) => {
    const timeline = await timelineOf('pg1-srv');
    await pgControl('pg3-srv', 'stop');
    try {
      const r = await cli('switchover', '--to', 'pg3-srv', '--yes');
      t.diagnostic(`--to pg3-srv (stopped): exit ${r.code}: ${r.stderr.trim()}`);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.notEqual(r.stderr.trim(), '', 'a message on stderr');
      assert.equal(await inRecovery('pg1-srv'), false, 'pg1-srv is still the primary');
      assert.equal(await timelineOf('pg1-srv'), timeline, 'on the same timeline');
      assert.equal(await receiver('pg2-srv'), `streaming ${addressOf('pg1-srv')} ${timeline}`, 'pg2-srv streams from pg1-srv');
      const down = await f.checks.sh('pg3-srv', ['bash', '-c', `"$1/pg_ctl" -D "$2" status >/dev/null; echo $?`, 'x', f.spec.postgres.binDir, f.spec.postgres.dataDir], f.spec.postgres.osUser);
      assert.equal(down.trim(), '3', 'pg3-srv was left stopped');
      await assertReleased();
    } finally {
      await pgControl('pg3-srv', 'start');
    }
    await until('pg3-srv to stream from pg1-srv again', async () => (await receiver('pg3-srv')) === `streaming ${addressOf('pg1-srv')} ${timeline}`, 120_000, 500);
  });

  test('switchover pg1-srv -> pg2-srv: no data loss, pg2-srv on the next timeline, pg1-srv and pg3-srv stream from it, the spec unchanged, backups work', LONG, async (t: TestContext) => {
    const before = await timelineOf('pg1-srv');
    const marker = (firstMarker = await commitRow('pg1-srv', 'switchover_before'));
    const started = Date.now();
    const watch = watchPrimaries();
    const writes = keepWriting('pg1-srv', 'switchover_before');
    const r = await cli('switchover', '--to', 'pg2-srv', '--yes');
    t.diagnostic(`switchover took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(await watch.stop(), [], 'never two primaries');
    await writes.stop('pg2-srv', t);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const m = RESULT.exec(r.stdout);
    assert.ok(m, `the result line in:\n${r.stdout}`);
    assert.equal(m[1], 'pg2-srv');
    assert.equal(Number(m[2]), before + 1, 'the result names the next timeline');
    assert.match(r.stdout, new RegExp(`switchover of stanza ${stanza()} done`));
    assert.match(r.stdout, /promote pg2-srv/, 'the progress was followed');

    await assertSwitchedTo('pg2-srv', before, 'switchover_before', marker);
    assertSteps(await progressOf(), 'pg1-srv', 'pg2-srv');
    assert.equal(readFileSync(specFile, 'utf8'), specText, 'the spec file is unchanged');
    await assertBackupsWork(before + 1);
    const history = await f.client.workflow.getHandle(switchoverWorkflowId(f.spec)).fetchHistory();
    assert.ok(!leaks(history, f.workerEnv.STANZACTL_SECRET_REPLICATION_PASSWORD), 'the replication password (written to the old primary\'s .pgpass) is in no event of its history');
    if (opts.recordHistory) recordHistory(f.temporal.address, switchoverWorkflowId(f.spec), 'switchover');
  });

  test('switchover back to pg1-srv with the worker SIGKILLed while pg2-srv stops and while pg1-srv is promoted: pg1-srv the one primary, the others stream from it, no row lost', LONG, async (t: TestContext) => {
    const before = await timelineOf('pg2-srv');
    const marker = await commitRow('pg2-srv', 'switchover_back');
    const watch = watchPrimaries();
    const writes = keepWriting('pg2-srv', 'switchover_back');
    const done = { cli: false };
    const run = cli('switchover', '--to', 'pg1-srv', '--yes').finally(() => (done.cli = true));

    const workflowId = switchoverWorkflowId(f.spec);
    const runId = await until(`a running ${workflowId}`, async () => {
      if (done.cli) assert.fail(`the CLI ended before ${workflowId} ran: ${JSON.stringify(await run)}`);
      try {
        const d = await f.client.workflow.getHandle(workflowId).describe();
        return d.status.name === 'RUNNING' && d.runId;
      } catch (e) {
        if (e instanceof WorkflowNotFoundError) return undefined;
        throw e;
      }
    }, 120_000, 50);
    const handle = f.client.workflow.getHandle(workflowId, runId);
    const open = { workflow: true };
    const result = handle.result();
    result.finally(() => (open.workflow = false)).catch(() => undefined);

    // Killed twice: while the old primary stops (before any promotion) and while pg1-srv is promoted.
    // A kill point is missed only if the step ran between two polls; a later step then shows it.
    const kills: string[] = [];
    for (const [step, later] of [['stop pg2-srv', 'pg1-srv replayed'], ['promote pg1-srv', 'pg1-srv accepts writes']]) {
      kills.push(await until(`step "${step}" to run`, async () => {
        assert.ok(open.workflow, `the workflow ended before the worker could be killed at "${step}"`);
        const steps = (await handle.query<Progress>(PROGRESS_QUERY)).steps;
        if (steps.some((s) => s.name === step && s.status === 'running')) return `${step} running`;
        return steps.some((s) => s.name === later) ? `(missed ${step}) ${later}` : undefined;
      }, 300_000, 20));
      await f.crashWorker();
    }
    t.diagnostic(`worker SIGKILLed at: ${kills.join('; ')}`);

    // The CLI runs apart from the worker: it keeps following and reports the result.
    const [workflow, cliRun] = await Promise.allSettled([result, run]);
    if (cliRun.status !== 'fulfilled') assert.fail(`the CLI did not run: ${String(cliRun.reason)}`);
    const r = cliRun.value;
    t.diagnostic(`the CLI's output:\n${r.stdout}${r.stderr}`);
    assert.deepEqual(await watch.stop(), [], 'never two primaries');
    await writes.stop('pg1-srv', t);
    assert.equal(workflow.status, 'fulfilled', `the workflow failed: ${workflow.status === 'rejected' ? failureMessage(workflow.reason) : ''}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const m = RESULT.exec(r.stdout);
    assert.ok(m, `the result line in:\n${r.stdout}`);
    assert.equal(m[1], 'pg1-srv');
    assert.equal(Number(m[2]), before + 1);

    const primaries = [];
    for (const n of names()) if (!(await inRecovery(n))) primaries.push(n);
    assert.deepEqual(primaries, ['pg1-srv'], 'exactly one primary');
    await assertSwitchedTo('pg1-srv', before, 'switchover_back', marker);
    for (const n of names()) assert.ok(await hasRow(n, 'switchover_before', firstMarker), `the first switchover's row is still on ${n}`);
    assertSteps(await progressOf(), 'pg2-srv', 'pg1-srv');
    assert.equal(readFileSync(specFile, 'utf8'), specText, 'the spec file is unchanged');
    await assertBackupsWork(before + 1);
    assert.deepEqual(kills, ['stop pg2-srv running', 'promote pg1-srv running'], 'where the worker was killed');
  });
}
