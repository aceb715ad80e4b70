import { setFlagsFromString } from 'node:v8';
import { Client } from '@temporalio/client';
import { Worker, type ActivityInterceptorsFactory, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { ACQUIRE_SIGNAL, BUDGET_WORKFLOW, budgetWorkflowId } from './budget/protocol';
import { openRun } from './client';
import { connectTemporal, temporalTarget, type TemporalTarget } from './connection';
import { TASK_QUEUE } from './paths';
import { recordingInterceptor } from './metrics/recorder';
import { serveMetrics } from './metrics/server';
import { hostAwayBudgetMs } from './remote/away';
import { SshPool } from './remote/ssh-pool';
import type { Remote } from './remote/types';
import type { Spec } from './spec/schema';
import type { Observations } from './status/observations';
import { describeLimits, workerLimits, type WorkerLimits } from './worker-limits';

/** One SSH pool per distinct SSH settings, shared by all activities of this worker. */
export function sshPools(limits: Pick<WorkerLimits, 'sshChannelsPerConnection' | 'sshConnectionsPerHost'> = workerLimits()): { remoteFor: (ssh: Spec['ssh']) => SshPool; closeAll: () => Promise<void> } {
  const pools = new Map<string, SshPool>();
  return {
    remoteFor(ssh) {
      const key = JSON.stringify([ssh.user, ssh.privateKeyFile, ssh.knownHostsFile, ssh.port ?? 22]);
      let pool = pools.get(key);
      if (!pool) {
        pool = new SshPool({
          user: ssh.user,
          privateKeyFile: ssh.privateKeyFile,
          knownHostsFile: ssh.knownHostsFile,
          port: ssh.port,
          maxChannelsPerConnection: limits.sshChannelsPerConnection,
          maxConnectionsPerHost: limits.sshConnectionsPerHost,
        });
        pools.set(key, pool);
      }
      return pool;
    },
    async closeAll() {
      await Promise.all([...pools.values()].map((p) => p.close()));
      pools.clear();
    },
  };
}

/**
 * What a caller adds to the worker without the product knowing it: the dev tooling's fault hook
 * (dev/faults.ts, the fault matrix's worker crashes) comes in here.
 */
export interface WorkerHooks {
  /** Around every activity, outside the metrics recorder. */
  readonly activityInterceptors?: readonly ActivityInterceptorsFactory[];
  /** Around the SSH remote every activity is given. */
  readonly wrapRemote?: (remote: Remote) => Remote;
  /** Once the worker is created and can take tasks, before it polls. */
  readonly ready?: () => void;
}

export interface WorkerSettings {
  /** The server and namespace; by default Temporal's environment configuration (src/connection.ts). */
  readonly target?: TemporalTarget;
  readonly taskQueue?: string;
  /** Prebuilt bundle (tests build it once); by default the workflows are bundled at start. */
  readonly workflowBundle?: WorkerOptions['workflowBundle'];
  /** By default from the environment (src/worker-limits.ts). */
  readonly limits?: WorkerLimits;
  /** host:port of the Prometheus endpoint (src/metrics); default STANZACTL_METRICS_ADDRESS, off when neither is set. */
  readonly metricsAddress?: string;
  /** Where the activities' results feed the gauges; set by runWorker when metrics are on. */
  readonly observations?: Observations;
  readonly hooks?: WorkerHooks;
}

/**
 * STANZACTL_WORKFLOW_BUNDLE names a bundle made by `bundleWorkflowCode` from this same build: a
 * worker restarted after a crash then polls within a second or two instead of running webpack.
 */
function bundleFromEnv(): WorkerOptions['workflowBundle'] | undefined {
  const codePath = process.env.STANZACTL_WORKFLOW_BUNDLE;
  return codePath ? { codePath } : undefined;
}

/**
 * Young generation of the V8 isolates created from here on: the SDK's workflow thread (created by
 * Worker.create), where every cached run lives. Node 20 lets each isolate's two semi-spaces grow to
 * 16 MiB under a burst of allocation (new space 32 MiB, by v8.getHeapSpaceStatistics); 2 MiB each
 * keeps it at 4, at the cost of more frequent, smaller scavenges. The main thread's isolate exists
 * already: `node --max-semi-space-size=2` bounds it too (the image does;
 * docs/deployment-and-security.md "Workers"). A size given to node by the operator is left alone.
 * 50 clusters' Schedules, 3 minutes (bench/README.md "Fleet budget"): worker RSS max 268 -> 237 MiB.
 */
const WORKFLOW_THREAD_SEMI_SPACE_MIB = 2;
function boundWorkflowThreadYoungGeneration(): void {
  const nodeFlags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (!nodeFlags.some((f) => /^--max[-_]semi[-_]space[-_]size/.test(f))) setFlagsFromString(`--max-semi-space-size=${WORKFLOW_THREAD_SEMI_SPACE_MIB}`);
}

export async function createWorker(s: WorkerSettings = {}): Promise<{ worker: Worker; target: TemporalTarget; close: () => Promise<void> }> {
  const limits = s.limits ?? workerLimits();
  const target = s.target ?? temporalTarget();
  const connection = await connectTemporal(target);
  const client = new Client({ connection, namespace: target.namespace });
  const pools = sshPools(limits);
  const wrapRemote = s.hooks?.wrapRemote;
  const bundle = s.workflowBundle ?? bundleFromEnv();
  const taskQueue = s.taskQueue ?? TASK_QUEUE;
  boundWorkflowThreadYoungGeneration();
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue,
    ...(bundle ? { workflowBundle: bundle } : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities({
      remoteFor: wrapRemote ? (ssh) => wrapRemote(pools.remoteFor(ssh)) : pools.remoteFor,
      // Lock holders are judged by whether their run is open, asked of the worker's own server.
      workflowOpen: async (workflowId, runId) => (await openRun(client, workflowId, runId)) !== undefined,
      askBudget: async (repositoryHost, request) => {
        await client.workflow.signalWithStart(BUDGET_WORKFLOW, {
          workflowId: budgetWorkflowId(repositoryHost),
          taskQueue,
          args: [],
          signal: ACQUIRE_SIGNAL,
          signalArgs: [request],
          staticSummary: `pgBackRest slots of repository host ${repositoryHost}`,
        });
      },
    }),
    interceptors: { activity: [...(s.hooks?.activityInterceptors ?? []), ...(s.observations ? [recordingInterceptor(s.observations)] : [])] },
    // The SDK sends an activity's heartbeats at most every 0.8 x heartbeatTimeout (4 s of the
    // profiles' 5 s), which would leave a live attempt 1 s of slack; once a second leaves it 4 s.
    maxHeartbeatThrottleInterval: '1 second',
    // Bounds chosen in src/worker-limits.ts (README "Workers: concurrency, several workers").
    maxConcurrentActivityTaskExecutions: limits.maxActivities,
    maxConcurrentWorkflowTaskExecutions: limits.maxWorkflowTasks,
    maxCachedWorkflows: limits.maxCachedWorkflows,
    // No workflow schedules local activities: every step is an ordinary activity, so the server
    // retries it on any worker and the history shows it. One slot instead of the SDK's 100.
    maxConcurrentLocalActivityExecutions: 1,
    // A workflow task waits this long on the sticky queue of the worker that ran the run before
    // (10 s by default) before any worker may take it. When that worker was killed, this delays
    // every next step of its runs; another worker replays the short history in milliseconds.
    stickyQueueScheduleToStartTimeout: '3 seconds',
  });
  s.hooks?.ready?.();
  return {
    worker,
    target,
    close: async () => {
      await pools.closeAll();
      await connection.close();
    },
  };
}

/** `stanzactl worker`: runs until SIGINT/SIGTERM (the SDK installs those handlers and drains). */
export async function runWorker(s: WorkerSettings = {}): Promise<void> {
  // A bad setting must stop the worker now, not fail the first backup hours later.
  const awaySeconds = hostAwayBudgetMs() / 1000;
  const limits = s.limits ?? workerLimits();
  const metricsAddress = s.metricsAddress ?? (process.env.STANZACTL_METRICS_ADDRESS || undefined);
  // Before the worker connects: the SDK's runtime takes its metrics exporter at installation.
  const metrics = metricsAddress ? await serveMetrics(metricsAddress) : undefined;
  // Closed also when the worker cannot start: a listening endpoint would keep the process alive.
  try {
    const { worker, target, close } = await createWorker({ ...s, limits, observations: metrics?.observations });
    console.log(`stanzactl worker polling task queue ${s.taskQueue ?? TASK_QUEUE} at ${target.description} (hosts may be away ${awaySeconds} s during a backup or restore; ${describeLimits(limits)}${metrics ? `; metrics at ${metrics.url}` : ''})`);
    try {
      await worker.run();
    } finally {
      await close();
    }
  } finally {
    await metrics?.close();
  }
}
