/**
 * 50 clusters on one worker, their full backups scheduled every minute to one repository host with
 * a budget of 2: what the worker, the Schedules and the budget cost.
 *
 *   npx tsc -p . && node dist/bench/fleet-budget.js [--clusters 50] [--minutes 4] [--backup-seconds 1]
 *
 * The Temporal dev server, the worker (createWorker: the real workflows, limits and budget
 * activities, in a process of its own whose RSS is sampled, with the bundle built beforehand as
 * STANZACTL_WORKFLOW_BUNDLE gives a production worker) and the Schedules are real. The hosts are
 * simulated: an activity interceptor answers every host activity of backupStanza at once (runBackup
 * after --backup-seconds, heartbeating), so what is measured is scheduling, queueing and the worker,
 * not pgBackRest.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { BackupRun, BackupSource, LockResult } from '../src/activities/backup';
import { BUDGET_QUERY, budgetWorkflowId, type BudgetState } from '../src/budget/protocol';
import { connectClient } from '../src/client';
import type { Topology } from '../src/facts/topology';
import { applySchedules } from '../src/schedules';
import { specSchema, type Spec } from '../src/spec/schema';
import { PROGRESS_QUERY, scheduleId } from '../src/workflow-ids';
import type { Progress } from '../src/workflows/progress';
import { temporalTarget } from '../src/connection';
import { createWorker } from '../src/worker';
import { buildWorkflowBundle, guardedTeardown, TestTemporal, WorkerProcess } from '../tests/e2e/harness';

const { values } = parseArgs({ options: { clusters: { type: 'string', default: '50' }, minutes: { type: 'string', default: '6' }, 'backup-seconds': { type: 'string', default: '1' }, worker: { type: 'boolean' } } });
const clusters = Number(values.clusters);
const minutes = Number(values.minutes);
const backupMs = Number(values['backup-seconds']) * 1000;
const REPO = 'repo-sim.example.com';
const QUEUE = 'bench-fleet';

function specOf(i: number): Spec {
  return specSchema.parse({
    stanza: `c${String(i).padStart(2, '0')}`,
    ssh: { user: 'root', privateKeyFile: '/nonexistent/key', knownHostsFile: '/nonexistent/known_hosts' },
    repository: { host: REPO, user: 'pgbackrest', path: '/backup_space', retentionFull: 2, budget: 2 },
    postgres: { version: 15, osUser: 'postgres', port: 5432, dataDir: '/var/lib/postgresql/15/main', binDir: '/usr/lib/postgresql/15/bin', control: { type: 'pg_ctl' } },
    nodes: [{ name: `pg-c${i}.example.com`, role: 'primary' }],
    replication: { user: 'replic_user', password: { env: 'UNUSED' } },
    backups: { fromStandby: false, schedule: { full: '* * * * *' } },
  });
}

/** The hosts of backupStanza, answered without SSH; the budget's own activities run for real. */
const SIMULATED: Record<string, (spec: Spec) => Promise<unknown>> = {
  claimBackupLock: async () => ({ changed: true, claimed: true, detail: 'claimed (simulated)' } satisfies LockResult),
  observeTopology: async (spec) => ({ primary: spec.nodes[0].name, specPrimary: spec.nodes[0].name, nodes: [{ name: spec.nodes[0].name, seenAs: 'primary', timeline: 1, streaming: false }], problems: [] } satisfies Topology),
  chooseBackupSource: async (spec) => ({ changed: false, node: spec.nodes[0].name, role: 'primary', why: 'simulated', backupStandby: false, detail: 'simulated' } satisfies BackupSource),
  runBackup: async () => {
    const started = Date.now();
    while (Date.now() - started < backupMs) {
      Context.current().heartbeat();
      await sleep(Math.min(500, backupMs));
    }
    const now = Math.floor(Date.now() / 1000);
    return {
      changed: true, detail: 'simulated', seconds: backupMs / 1000, copiedFrom: [],
      backup: { label: 'SIM', type: 'full', databaseSize: 0, deltaSize: 0, repoSize: 0, repoDeltaSize: 0, startedAt: now, stoppedAt: now, walStart: '', walStop: '' },
    } satisfies BackupRun;
  },
  releaseBackupLock: async () => ({ changed: true, detail: 'released (simulated)' }),
};

const simulatedHosts: ActivityInterceptorsFactory = () => ({
  inbound: {
    execute: async (input, next) => {
      const fake = SIMULATED[Context.current().info.activityType];
      return fake ? fake(input.args[0] as Spec) : next(input);
    },
  },
});

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** The worker process (--worker): the real worker with the hosts simulated, until SIGTERM. */
async function workerMain(): Promise<void> {
  const { worker, close } = await createWorker({
    target: temporalTarget({ TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS }),
    taskQueue: QUEUE,
    workflowBundle: { codePath: process.env.STANZACTL_WORKFLOW_BUNDLE! },
    hooks: { activityInterceptors: [simulatedHosts] },
  });
  console.log(`bench worker polling task queue ${QUEUE}`);
  // The main thread's V8 heap beside the process's RSS: what of the RSS is this isolate's.
  const mib = (b: number) => Math.round(b / 2 ** 20);
  setInterval(() => {
    const m = process.memoryUsage();
    console.log(`mem rss ${mib(m.rss)} heapTotal ${mib(m.heapTotal)} heapUsed ${mib(m.heapUsed)} external ${mib(m.external)} MiB`);
  }, 10_000).unref();
  try {
    await worker.run();
  } finally {
    await close();
  }
}

/** VmRSS of a process, in bytes. */
const rssOf = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;

async function main(): Promise<void> {
  const temporal = new TestTemporal();
  let worker: WorkerProcess | undefined;
  let client: Client | undefined;
  const teardown = guardedTeardown(async () => {
    await worker?.kill('SIGTERM');
    await client?.connection.close();
    await temporal.stop();
  });
  try {
    await temporal.start();
    client = await connectClient(temporal.address);
    const bundle = await buildWorkflowBundle(temporal.dir);
    worker = new WorkerProcess({ TEMPORAL_ADDRESS: temporal.address, STANZACTL_WORKFLOW_BUNDLE: bundle }, false,
      [__filename, '--worker', '--backup-seconds', String(backupMs / 1000)]);
    await worker.start();
    const pid = worker.pid!;
    const specs = Array.from({ length: clusters }, (_, i) => specOf(i + 1));
    for (const spec of specs) await applySchedules(client, spec, QUEUE);
    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(rssOf(pid)), 1000);
    console.log(`${clusters} clusters, full backups every minute, budget 2 on ${REPO}, simulated backups of ${backupMs / 1000} s; running ${minutes} min`);
    await sleep(minutes * 60_000 + 20_000);
    clearInterval(sampler);
    for (const spec of specs) await client.schedule.getHandle(scheduleId(spec, 'full')).pause('bench over');

    const delays: number[] = [];
    for (const spec of specs) {
      const d = await client.schedule.getHandle(scheduleId(spec, 'full')).describe();
      for (const a of d.info.recentActions) delays.push(a.takenAt.getTime() - a.scheduledAt.getTime());
    }
    let done = 0;
    let failed = 0;
    let runningNow = 0;
    const waits: number[] = [];
    for await (const w of client.workflow.list({ query: "WorkflowType = 'backupStanza'" })) {
      if (w.status.name === 'COMPLETED') done++;
      else if (w.status.name === 'RUNNING') runningNow++;
      else failed++;
      if (w.status.name !== 'COMPLETED') continue;
      const queued = (await client.workflow.getHandle(w.workflowId, w.runId).query<Progress>(PROGRESS_QUERY)).steps.find((x) => x.name.startsWith('queue for'));
      if (queued?.endedAt) waits.push(queued.endedAt - queued.startedAt);
    }
    const budgetRuns: number[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = '${budgetWorkflowId(REPO)}'` })) {
      budgetRuns.push((await client.workflow.getHandle(w.workflowId, w.runId).describe()).historyLength);
    }
    const state = await client.workflow.getHandle(budgetWorkflowId(REPO)).query<BudgetState>(BUDGET_QUERY);
    const mib = (b: number) => (b / 2 ** 20).toFixed(0);
    console.log(`backups: ${done} completed, ${failed} failed, ${runningNow} still running or queued at the end`);
    console.log(`wait in the budget's queue (${waits.length} backups): p50 ${pct(waits, 50)} ms, max ${Math.max(...waits)} ms`);
    console.log(`schedule start delay (takenAt - scheduledAt, ${delays.length} actions): p50 ${pct(delays, 50)} ms, p99 ${pct(delays, 99)} ms, max ${Math.max(...delays)} ms`);
    console.log(`worker RSS (its own process): max ${mib(Math.max(...rss))} MiB, last ${mib(rss[rss.length - 1])} MiB`);
    const mem = worker.output.split('\n').filter((l) => l.startsWith('mem '));
    const heapMax = Math.max(...mem.map((l) => Number(/heapTotal (\d+)/.exec(l)?.[1])));
    console.log(`worker main thread heap: heapTotal max ${heapMax} MiB; last: ${mem[mem.length - 1]}`);
    console.log(`worker settings: NODE_OPTIONS=${process.env.NODE_OPTIONS ?? ''} MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? ''} STANZACTL_MAX_CACHED_WORKFLOWS=${process.env.STANZACTL_MAX_CACHED_WORKFLOWS ?? ''}`);
    console.log(`budget workflow: ${budgetRuns.length} runs (continue-as-new), history lengths ${budgetRuns.join(', ')}; at the end ${state.holders.length} held, ${state.queue.length} queued`);
  } finally {
    await teardown();
  }
}

void (values.worker ? workerMain() : main()).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
