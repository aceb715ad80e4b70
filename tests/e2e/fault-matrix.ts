import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActivityFailure, WorkflowFailedError, type WorkflowHandleWithFirstExecutionRunId as WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { failureMessage, startProvision } from '../../src/client';
import { startBackup } from '../../src/commands/backup';
import { readFaultLog, type FaultEntry, type FaultPoint, type FaultRecord } from '../../dev/faults';
import { entriesFor, rowsOf, type MatrixLayout, type MatrixReport, type MatrixRow, type ServerKillRow, type Workflow } from './fault-rows';
import { TASK_QUEUE } from '../../src/paths';
import type { BackupOutcome } from '../../src/workflows/backup';
import { failoverWorkflowId, rebuildWorkflowId, recoverWorkflowId, switchoverWorkflowId } from '../../src/workflow-ids';
import type { FailoverResult } from '../../src/workflows/failover';
import type { RebuildResult } from '../../src/workflows/rebuild';
import { withoutNode, withPrimary } from '../../src/spec/roles';
import { ClusterChecks } from './cluster-checks';
import { ProvisionFixture } from './fixture';
import { confirmedFailover, confirmedRebuild, confirmedRecover, confirmedSwitchover } from './confirmed';
import { buildWorkflowBundle, until, WorkerProcess } from './harness';
import { RecoverChecks } from './recover-checks';

/**
 * The fault matrix: every activity of provisionCluster, backupStanza, rebuildStandby and recoverCluster, killed
 * (SIGKILL of the worker, dev/faults.ts) at point a (inside, after its first change) and at point b
 * (done, not yet recorded). One workflow run takes all the kills of one workflow and point in turn.
 * On Debian hosts every step; on systemd hosts the steps that control a server (fault-rows.ts).
 * Shared by tests/e2e/fault-matrix.test.ts (asserts every row) and bench/fault-matrix.ts (prints).
 */

/** The dev tooling's worker: `stanzactl worker` with the fault hook of the plan STANZACTL_FAULTS names. */
const FAULT_WORKER = [require.resolve('../../dev/cli'), 'worker'];

/**
 * A lab cluster and two supervised workers whose fault plan each run replaces. Two, as a site
 * that cares about resume time runs them: the retry of a killed attempt starts on the survivor
 * while the supervisor restarts the dead one, so resume time is Temporal's detection and retry,
 * not process start-up on a loaded machine (the restarts are measured apart).
 */
class FaultLab {
  readonly f: ProvisionFixture;
  private readonly dir = mkdtempSync(join(tmpdir(), 'stanzactl-faults-'));
  private readonly planFile = join(this.dir, 'plan.json');
  private runs = 0;
  private workers: WorkerProcess[] = [];
  /** Seconds from each worker's death to its successor polling. */
  readonly restartSeconds: number[] = [];

  constructor(readonly layout: MatrixLayout, prefix: string, subnet: string, bundle: string) {
    this.f = new ProvisionFixture(layout, prefix, subnet);
    this.f.workerEnv.STANZACTL_WORKFLOW_BUNDLE = bundle;
    this.f.workerEnv.STANZACTL_FAULTS = this.planFile;
    this.plan([]);
  }

  private plan(entries: FaultEntry[]): string {
    const log = join(this.dir, `faults-${++this.runs}.jsonl`);
    writeFileSync(this.planFile, JSON.stringify({ entries, log }));
    return log;
  }

  async setUp(): Promise<void> {
    await this.f.setUp();
    // Standbys listed in the repository's config: backups choose their source on the hosts.
    this.f.spec = { ...this.f.spec, backups: { fromStandby: 'prefer' } };
    await this.f.worker.kill();
    await this.startWorkers();
  }

  private async startWorkers(): Promise<void> {
    this.workers = [new WorkerProcess(this.f.workerEnv, true, FAULT_WORKER), new WorkerProcess(this.f.workerEnv, true, FAULT_WORKER)];
    this.f.worker = this.workers[0];
    await Promise.all(this.workers.map((w) => w.start()));
  }

  private async stopWorkers(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.kill()));
    for (const w of this.workers) for (const r of w.restarts) if (r.readyAt) this.restartSeconds.push((r.readyAt - r.diedAt) / 1000);
    this.workers = [];
  }

  async teardown(): Promise<void> {
    await this.stopWorkers();
    await this.f.teardown();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Restarts the workers on a new plan (the plan is read at start), runs the workflow, reads its log. */
  async withKills<T>(entries: FaultEntry[], start: () => Promise<WorkflowHandle>): Promise<{ result: T; log: FaultRecord[]; history: temporal.api.history.v1.IHistory; runId: string }> {
    await this.stopWorkers();
    const log = this.plan(entries);
    await this.startWorkers();
    const handle = await start();
    const result = (await handle.result()) as T;
    return { result, log: readFaultLog(log), history: await handle.fetchHistory(), runId: handle.firstExecutionRunId };
  }

  begins(host: string, command: 'backup' | 'restore'): Promise<number> {
    return this.f.checks.pgbackrestBegins(host, command);
  }

  /**
   * On systemd hosts, every node's server is its unit's: a kill between a systemctl command and
   * the step's report leaves no postmaster systemd does not know of.
   */
  async assertServersUnderControl(): Promise<void> {
    if (this.f.spec.postgres.control.type !== 'systemd') return;
    for (const n of this.f.spec.nodes) await this.f.checks.assertUnitRuns(n.name);
  }

  /** What an uninterrupted provision leaves, checked on the hosts without stanzactl. */
  async assertProvisioned(): Promise<void> {
    const c = this.f.checks;
    // The systemd layout's primary is the package's cluster (no data checksums), adopted as it is.
    await c.assertHealthy(this.layout === 'debian' ? 'created' : 'adopted');
    const hba = (await c.sh('pg1-srv', ['cat', await c.psql('pg1-srv', 'SHOW hba_file')])).split('\n');
    for (const n of this.f.spec.nodes.filter((x) => x.role === 'standby')) {
      const ip = this.f.lab.hosts.find((h) => h.name === n.name)!.ip;
      assert.equal(hba.filter((l) => /\breplication\b/.test(l) && l.includes(ip)).length, 1, `one pg_hba line for ${n.name}`);
    }
    const repoUser = this.f.spec.repository.user;
    const lines = async (host: string, path: string) => (await c.sh(host, ['cat', path])).split('\n').filter(Boolean);
    const pgHome = async (host: string) => (await c.sh(host, ['bash', '-c', 'getent passwd "$1" | cut -d: -f6', 'x', this.f.spec.postgres.osUser])).trim();
    const repoKeys = await lines('backup-srv', `/home/${repoUser}/.ssh/authorized_keys`);
    assert.equal(repoKeys.length, 3, 'one key per node in the repository user\'s authorized_keys');
    assert.equal(new Set(repoKeys).size, 3);
    for (const n of this.f.spec.nodes) {
      const home = await pgHome(n.name);
      assert.equal((await lines(n.name, `${home}/.ssh/authorized_keys`)).length, 1, `${n.name}: one authorized key`);
      const known = await lines(n.name, `${home}/.ssh/known_hosts`);
      assert.equal(new Set(known).size, known.length, `${n.name}: no repeated known_hosts line`);
      const repoHost = this.f.spec.repository.host;
      assert.equal(known.filter((l) => l.split(' ')[0].split(',').includes(repoHost)).length, 1, `${n.name}: one known_hosts line for ${repoHost}`);
      assert.match(await c.pgbackrestConf(n.name), /^\[demo\]$/m);
    }
    for (const n of ['pg2-srv', 'pg3-srv']) assert.equal((await lines(n, `${await pgHome(n)}/.pgpass`)).length, 1, `${n}: one .pgpass line`);
    const repoKnown = await lines('backup-srv', `/home/${repoUser}/.ssh/known_hosts`);
    assert.equal(new Set(repoKnown).size, repoKnown.length, 'backup-srv: no repeated known_hosts line');
    for (const n of this.f.spec.nodes) {
      const names = (l: string) => l.split(' ')[0].split(',');
      assert.equal(repoKnown.filter((l) => names(l).includes(n.name)).length, 1, `backup-srv: one known_hosts line for ${n.name}`);
    }
  }

  async lockReleased(): Promise<void> {
    // A rebuild's entry (stanza-<stanza>/rebuild/<node>) stays until a claim in its way drops it.
    const r = await this.f.checks.sh('backup-srv', ['bash', '-c', 'find /var/lib/stanzactl/locks -type f ! -name ".*" ! -path "*/rebuild/*" 2>/dev/null || true']);
    assert.equal(r.trim(), '', 'no backup or recover lock left');
  }
}

/** The failing step and its reason, as a DBA would read them. */
function problem(e: unknown): string {
  const cause = e instanceof WorkflowFailedError ? e.cause : undefined;
  const step = cause instanceof ActivityFailure ? `${cause.activityType} (retry state ${cause.retryState}): ` : '';
  return step + failureMessage(e).replace(/\s+/g, ' ').slice(0, 300);
}

type LabName = [prefix: string, subnet: string];

/** Promise.all that settles every promise before it fails: a teardown must not race a lab still coming up. */
async function allSettled(ps: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(ps)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The labs of each part of the matrix (prefix and subnet each); a part without its labs is not run. */
export interface MatrixLabs {
  /** Two fresh labs (point a and point b of provision), then the other workflows on the first beside the server kills on a third. */
  readonly debian?: { readonly a: LabName; readonly b: LabName; readonly c: LabName };
  /** Two fresh systemd-pgdg labs (point a and point b of provision), then the rebuilds on the first beside the recovers on the second. */
  readonly systemd?: { readonly a: LabName; readonly b: LabName };
}

/** Runs the matrix's parts side by side. */
export async function runFaultMatrix(labs: MatrixLabs, say: (line: string) => void = () => undefined): Promise<MatrixReport> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-bundle-'));
  const bundle = await buildWorkflowBundle(dir);
  const rows: MatrixRow[] = [];
  const runProblems: string[] = [];
  const serverKills: ServerKillRow[] = [];
  const made: FaultLab[] = [];
  const fresh = (layout: MatrixLayout, [prefix, subnet]: LabName) => {
    const lab = new FaultLab(layout, prefix, subnet, bundle);
    made.push(lab);
    return lab;
  };
  try {
    const run = async (lab: FaultLab, workflow: Workflow, point: FaultPoint, start: () => Promise<WorkflowHandle>, check: (result: unknown) => Promise<void>) => {
      const matrixRun = { layout: lab.layout, workflow, point };
      const entries = entriesFor(matrixRun);
      const name = `${workflow} point ${point}${lab.layout === 'debian' ? '' : ` on ${lab.layout}`}`;
      say(`${workflow} with ${entries.length} kills at point ${point} on ${lab.layout}`);
      try {
        const r = await lab.withKills(entries, start);
        const { rows: rs, problems } = rowsOf(matrixRun, entries, r.log, r.history, r.runId);
        rows.push(...rs);
        runProblems.push(...problems.map((p) => `${name}: ${p}`));
        await check(r.result).then(() => lab.assertServersUnderControl()).catch((e: unknown) => runProblems.push(`${name}: end state: ${problem(e)}`));
      } catch (e) {
        rows.push(...entries.map((en) => ({ ...matrixRun, step: en.activityType, outcome: `workflow failed: ${problem(e)}` })));
      }
    };

    const provision = async (lab: FaultLab, point: FaultPoint) => {
      const standbys = ['pg2-srv', 'pg3-srv'];
      await run(lab, 'provisionCluster', point, () => startProvision(lab.f.client, lab.f.spec), async () => {
        await lab.assertProvisioned();
        assert.equal(await lab.begins('backup-srv', 'backup'), 1, 'pgBackRest ran one backup');
        for (const n of standbys) assert.equal(await lab.begins(n, 'restore'), 1, `pgBackRest ran one restore on ${n}`);
      });
    };

    const rebuild = (lab: FaultLab, id: string) => () =>
      lab.f.client.workflow.start('rebuildStandby', { taskQueue: TASK_QUEUE, workflowId: `${rebuildWorkflowId(lab.f.spec, 'pg2-srv')}-${id}`, args: [lab.f.spec, 'pg2-srv', { confirm: confirmedRebuild(lab.f.spec, 'pg2-srv') }] });
    const rebuilt = async (lab: FaultLab, restoresBefore: number, pg3Before: number) => {
      assert.equal(await lab.begins('pg2-srv', 'restore'), restoresBefore + 1, 'pgBackRest ran one restore on pg2-srv');
      assert.equal(await lab.begins('pg3-srv', 'restore'), pg3Before, 'pg3-srv was not restored');
      assert.deepEqual(await lab.f.checks.streamingStandbys(), ['pg2-srv', 'pg3-srv']);
      await lab.f.checks.rowReplicates();
    };
    const rebuilds = async (lab: FaultLab) => {
      for (const point of ['a', 'b'] as const) {
        const [pg2, pg3] = [await lab.begins('pg2-srv', 'restore'), await lab.begins('pg3-srv', 'restore')];
        await run(lab, 'rebuildStandby', point, rebuild(lab, point), () => rebuilt(lab, pg2, pg3));
      }
    };
    // A recover to a time between a table's creation and its drop: the table is back, the cluster
    // on a new timeline, pgBackRest restored the primary and each standby once and backed up once.
    const recover = (lab: FaultLab, id: string) => {
      const r = new RecoverChecks(lab.f.checks);
      let before: { timeline: number; backups: number; restores: number[]; table: string } | undefined;
      const start = async () => {
        const table = `recovered_${id}`;
        const target = await r.tableThenDrop(table, 3);
        const nodes = lab.f.spec.nodes.map((n) => n.name);
        before = { timeline: await r.primaryTimeline(), backups: await lab.begins('backup-srv', 'backup'), restores: await Promise.all(nodes.map((n) => lab.begins(n, 'restore'))), table };
        return lab.f.client.workflow.start('recoverCluster', { taskQueue: TASK_QUEUE, workflowId: `${recoverWorkflowId(lab.f.spec)}-${id}`, args: [lab.f.spec, await confirmedRecover(lab.f.client, lab.f.spec, { type: 'time', target })] });
      };
      const recovered = async () => {
        assert.equal(await r.tableRows(before!.table), '3', `the dropped table ${before!.table} is back`);
        await r.assertOnNewTimeline(before!.timeline);
        assert.equal(await lab.begins('backup-srv', 'backup'), before!.backups + 1, 'pgBackRest ran one backup');
        for (const [i, n] of lab.f.spec.nodes.entries()) assert.equal(await lab.begins(n.name, 'restore'), before!.restores[i] + 1, `pgBackRest ran one restore on ${n.name}`);
        await lab.lockReleased();
      };
      return { start, recovered };
    };
    const recovers = async (lab: FaultLab) => {
      for (const point of ['a', 'b'] as const) {
        const { start, recovered } = recover(lab, point);
        await run(lab, 'recoverCluster', point, start, recovered);
      }
    };

    // Roles that move, each ending with one primary and every other running node streaming from it
    // (a row written there reaches them), one backup on the new timeline, the stanza released.
    const moved = async (lab: FaultLab, primary: string, backupsBefore: number, fenced?: string) => {
      const spec = withPrimary(lab.f.spec, primary);
      const checks = new ClusterChecks(lab.f.lab, fenced ? withoutNode(spec, fenced) : spec);
      for (const n of checks.spec.nodes) assert.equal(await checks.psql(n.name, 'SELECT pg_is_in_recovery()'), n.name === primary ? 'f' : 't', `${n.name}: ${n.name === primary ? 'the primary' : 'a standby'}`);
      await checks.rowReplicates();
      assert.equal(await lab.begins('backup-srv', 'backup'), backupsBefore + 1, 'pgBackRest ran one backup');
      await lab.lockReleased();
    };
    const switchover = (lab: FaultLab, to: string, id: string) => async () =>
      lab.f.client.workflow.start('switchoverCluster', { taskQueue: TASK_QUEUE, workflowId: `${switchoverWorkflowId(lab.f.spec)}-${id}`, args: [lab.f.spec, await confirmedSwitchover(lab.f.client, lab.f.spec, to)] });
    // The primary commits a row no standby streams (each pointed nowhere first): the failover that
    // follows fences it with a fork of its own, which its rejoin undoes by pg_rewind. The row
    // itself may survive: a primary that stops with archiving on switches WAL segments first, and
    // the target replays the archived one before it promotes; the shutdown checkpoint after it
    // goes to a segment never archived, and that record is the fork.
    const diverge = async (lab: FaultLab, primary: string, table: string) => {
      const standbys = lab.f.spec.nodes.map((n) => n.name).filter((n) => n !== primary);
      for (const s of standbys) {
        await lab.f.checks.psql(s, "ALTER SYSTEM SET primary_conninfo = 'host=/nonexistent'");
        await lab.f.checks.psql(s, 'SELECT pg_reload_conf()');
      }
      await until(`${primary} to stream to no standby`, async () => (await lab.f.checks.psql(primary, 'SELECT count(*) FROM pg_stat_replication')) === '0');
      await lab.f.checks.psql(primary, `CREATE TABLE ${table} (id int); INSERT INTO ${table} VALUES (1)`);
    };
    // A switchover to pg2-srv (point a) and back (point b); then a failover that fences the running
    // primary, which had forked, at each point, and the rejoin of that old primary by pg_rewind at the same point.
    const roleMoves = async (lab: FaultLab) => {
      for (const [point, to] of [['a', 'pg2-srv'], ['b', 'pg1-srv']] as const) {
        const backups = await lab.begins('backup-srv', 'backup');
        await run(lab, 'switchoverCluster', point, switchover(lab, to, point), () => moved(lab, to, backups));
      }
      let old = 'pg1-srv';
      for (const point of ['a', 'b'] as const) {
        const backups = await lab.begins('backup-srv', 'backup');
        const spec = lab.f.spec;
        const forked = `forked_${point}`;
        await diverge(lab, old, forked);
        let now: string | undefined;
        await run(lab, 'failoverCluster', point,
          async () => lab.f.client.workflow.start('failoverCluster', { taskQueue: TASK_QUEUE, workflowId: `${failoverWorkflowId(spec)}-${point}`, args: [spec, await confirmedFailover(lab.f.client, spec, { fence: 'stop' })] }),
          async (result) => {
            const { plan } = result as FailoverResult;
            assert.equal(plan.primary, old);
            await moved(lab, plan.to, backups, old);
            now = plan.to;
          });
        if (now === undefined) return;
        const restores = await lab.begins(old, 'restore');
        await run(lab, 'rejoinStandby', point,
          () => lab.f.client.workflow.start('rebuildStandby', { taskQueue: TASK_QUEUE, workflowId: `${rebuildWorkflowId(spec, old)}-rejoin-${point}`, args: [spec, old, { method: 'rewind', confirm: confirmedRebuild(spec, old) }] }),
          async (result) => {
            assert.equal((result as RebuildResult).method, 'rewind', `${old} rejoined by pg_rewind`);
            assert.equal(await lab.begins(old, 'restore'), restores, `no pgBackRest restore on ${old}`);
            const checks = new ClusterChecks(lab.f.lab, withPrimary(spec, now!));
            const has = (n: string) => checks.psql(n, `SELECT to_regclass('${forked}') IS NOT NULL`);
            assert.equal(await has(old), await has(now!), `${old} holds ${forked} exactly when ${now} does: nothing of its fork is left`);
            await checks.rowReplicates();
          });
        old = now;
      }
    };

    const matrixOnA = async (labA: FaultLab) => {
      const spec = labA.f.spec;
      for (const point of ['a', 'b'] as const) {
        const before = await labA.begins('backup-srv', 'backup');
        await run(labA, 'backupStanza', point, () => startBackup(labA.f.client, spec, 'full'), async (result) => {
          const o = result as BackupOutcome;
          assert.equal(o.status, 'done');
          if (o.status === 'done') assert.ok((await labA.f.checks.fullBackups()).includes(o.backup.label), `${o.backup.label} in pgbackrest info`);
          assert.equal(await labA.begins('backup-srv', 'backup'), before + 1, 'pgBackRest ran one backup');
          await labA.lockReleased();
          await labA.f.checks.pgbackrest('check');
        });
      }
      await rebuilds(labA);
      await recovers(labA);
    };

    // Temporal itself SIGKILLed and restarted on its SQLite file while a long step runs.
    const serverKill = async (lab: FaultLab, workflow: Workflow, at: { host: string; activity: string }, start: () => Promise<WorkflowHandle>, check: () => Promise<void>) => {
      say(`${workflow}: Temporal server killed during ${at.activity}`);
      try {
        await lab.withKills([], async () => {
          const handle = await start();
          await lab.f.runStarted(at.host, handle.firstExecutionRunId, at.activity, () => true);
          await lab.f.temporal.kill();
          await lab.f.temporal.start();
          return handle;
        });
        await check();
        serverKills.push({ workflow, at: at.activity, outcome: 'ok' });
      } catch (e) {
        serverKills.push({ workflow, at: at.activity, outcome: problem(e) });
      }
    };
    const serverKills3 = async (labB: FaultLab, labC: FaultLab) => {
      await roleMoves(labB);
      await labB.teardown();
      await labC.setUp();
      await serverKill(labC, 'provisionCluster', { host: 'backup-srv', activity: 'ensureFullBackup' }, () => startProvision(labC.f.client, labC.f.spec), async () => {
        await labC.assertProvisioned();
        assert.equal(await labC.begins('backup-srv', 'backup'), 1, 'pgBackRest ran one backup');
      });
      const backups = await labC.begins('backup-srv', 'backup');
      await serverKill(labC, 'backupStanza', { host: 'backup-srv', activity: 'runBackup' }, () => startBackup(labC.f.client, labC.f.spec, 'full'), async () => {
        assert.equal(await labC.begins('backup-srv', 'backup'), backups + 1, 'pgBackRest ran one backup');
        await labC.lockReleased();
      });
      const [pg2, pg3] = [await labC.begins('pg2-srv', 'restore'), await labC.begins('pg3-srv', 'restore')];
      await serverKill(labC, 'rebuildStandby', { host: 'pg2-srv', activity: 'restoreStandby' }, rebuild(labC, 'server'), () => rebuilt(labC, pg2, pg3));
      const { start, recovered } = recover(labC, 'server');
      await serverKill(labC, 'recoverCluster', { host: 'pg1-srv', activity: 'restorePrimary' }, start, recovered);
      const before = await labC.begins('backup-srv', 'backup');
      await serverKill(labC, 'switchoverCluster', { host: 'backup-srv', activity: 'runBackup' }, switchover(labC, 'pg2-srv', 'server'), () => moved(labC, 'pg2-srv', before));
    };

    // A part: its labs' boot, then its runs.
    const debian = (names: NonNullable<MatrixLabs['debian']>) => {
      const [labA, labB, labC] = [fresh('debian', names.a), fresh('debian', names.b), fresh('debian', names.c)];
      return {
        up: () => allSettled([labA.setUp(), labB.setUp()]),
        runs: async () => {
          await allSettled([provision(labA, 'a'), provision(labB, 'b')]);
          await allSettled([matrixOnA(labA), serverKills3(labB, labC)]);
        },
      };
    };
    const systemd = (names: NonNullable<MatrixLabs['systemd']>) => {
      const [labA, labB] = [fresh('systemd-pgdg', names.a), fresh('systemd-pgdg', names.b)];
      return {
        // One lab's systemd hosts boot at a time: eight boots at once, beside the Debian labs, would
        // crowd the machine's two cores past a host's boot timeout.
        up: async () => {
          await labA.setUp();
          await labB.setUp();
        },
        runs: () => allSettled([provision(labA, 'a').then(() => rebuilds(labA)), provision(labB, 'b').then(() => recovers(labB))]),
      };
    };
    const parts = [...(labs.debian ? [debian(labs.debian)] : []), ...(labs.systemd ? [systemd(labs.systemd)] : [])];
    // Every lab is up before the first kill: systemd hosts booting beside a run slowed a retry
    // past its limit (7.7 s against 7 s), a delay of the machine, not of the step.
    await allSettled(parts.map((p) => p.up()));
    // One part's kills at a time: beside each other, the Debian rows resumed at 6.9-7.0 s against
    // their 7 s limit, with no slack left for a slower machine.
    let failure: unknown;
    for (const p of parts) await p.runs().catch((e: unknown) => { failure ??= e; });
    if (failure !== undefined) throw failure;
  } finally {
    await Promise.all(made.map((l) => l.teardown()));
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, serverKills, runProblems, restartSeconds: made.flatMap((l) => l.restartSeconds), seconds: (Date.now() - t0) / 1000 };
}

export { matrixTable } from './fault-rows';
