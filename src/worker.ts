import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { FaultHook } from './faults';
import { TASK_QUEUE, temporalAddress, temporalNamespace } from './paths';
import { hostAwayBudgetMs } from './remote/away';
import { SshPool } from './remote/ssh-pool';
import type { Spec } from './spec/schema';

/** One SSH pool per distinct SSH settings, shared by all activities of this worker. */
export function sshPools(): { remoteFor: (ssh: Spec['ssh']) => SshPool; closeAll: () => Promise<void> } {
  const pools = new Map<string, SshPool>();
  return {
    remoteFor(ssh) {
      const key = JSON.stringify([ssh.user, ssh.privateKeyFile, ssh.knownHostsFile, ssh.port ?? 22]);
      let pool = pools.get(key);
      if (!pool) {
        pool = new SshPool({ user: ssh.user, privateKeyFile: ssh.privateKeyFile, knownHostsFile: ssh.knownHostsFile, port: ssh.port });
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

export interface WorkerSettings {
  readonly address?: string;
  readonly namespace?: string;
  readonly taskQueue?: string;
  /** Prebuilt bundle (tests build it once); by default the workflows are bundled at start. */
  readonly workflowBundle?: WorkerOptions['workflowBundle'];
}

/**
 * STANZACTL_WORKFLOW_BUNDLE names a bundle made by `bundleWorkflowCode` from this same build: a
 * worker restarted after a crash then polls within a second or two instead of running webpack.
 */
function bundleFromEnv(): WorkerOptions['workflowBundle'] | undefined {
  const codePath = process.env.STANZACTL_WORKFLOW_BUNDLE;
  return codePath ? { codePath } : undefined;
}

export async function createWorker(s: WorkerSettings = {}): Promise<{ worker: Worker; close: () => Promise<void> }> {
  const connection = await NativeConnection.connect({ address: s.address ?? temporalAddress() });
  const pools = sshPools();
  // Test-only (src/faults.ts): absent unless STANZACTL_FAULTS names a fault plan.
  const faults = FaultHook.fromEnv();
  const bundle = s.workflowBundle ?? bundleFromEnv();
  const worker = await Worker.create({
    connection,
    namespace: s.namespace ?? temporalNamespace(),
    taskQueue: s.taskQueue ?? TASK_QUEUE,
    ...(bundle ? { workflowBundle: bundle } : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities({ remoteFor: faults ? (ssh) => faults.remote(pools.remoteFor(ssh)) : pools.remoteFor }),
    ...(faults ? { interceptors: { activity: [faults.interceptor] } } : {}),
    // The SDK sends an activity's heartbeats at most every 0.8 x heartbeatTimeout (4 s of the
    // profiles' 5 s), which would leave a live attempt 1 s of slack; once a second leaves it 4 s.
    maxHeartbeatThrottleInterval: '1 second',
  });
  faults?.ready();
  return {
    worker,
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
  const { worker, close } = await createWorker(s);
  console.log(`stanzactl worker polling task queue ${s.taskQueue ?? TASK_QUEUE} at ${s.address ?? temporalAddress()} (namespace ${s.namespace ?? temporalNamespace()}; hosts may be away ${awaySeconds} s during a backup or restore)`);
  try {
    await worker.run();
  } finally {
    await close();
  }
}
