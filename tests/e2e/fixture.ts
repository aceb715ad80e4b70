import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { connectClient } from '../../src/client';
import { labDown, labExec, labSpec, labUp, type Lab, type LabLayout } from '../../src/lab';
import { specSchema, type Spec } from '../../src/spec/schema';
import { ClusterChecks } from './cluster-checks';
import { guardedTeardown, TestTemporal, WorkerProcess } from './harness';

/** A lab, a Temporal dev server of its own and a worker process: what every provision test needs. */
export class ProvisionFixture {
  readonly temporal = new TestTemporal();
  readonly stateDir = mkdtempSync(join(tmpdir(), 'stanzactl-lab-'));
  readonly workerEnv: Record<string, string> = { STANZACTL_REPLICATION_PASSWORD: randomBytes(12).toString('base64url') };
  lab!: Lab;
  spec!: Spec;
  client!: Client;
  worker!: WorkerProcess;
  checks!: ClusterChecks;
  readonly teardown = guardedTeardown(async () => {
    await this.worker?.kill();
    await this.client?.connection.close();
    await labDown({ stateDir: this.stateDir });
    await this.temporal.stop();
    rmSync(this.stateDir, { recursive: true, force: true });
  });

  constructor(private readonly layout: LabLayout, private readonly prefix: string, private readonly subnet: string) {}

  async setUp(): Promise<void> {
    await this.temporal.start();
    this.lab = await labUp({ layout: this.layout, prefix: this.prefix, subnet: this.subnet, stateDir: this.stateDir });
    this.spec = specSchema.parse(labSpec(this.lab));
    this.checks = new ClusterChecks(this.lab, this.spec);
    this.client = await connectClient(this.temporal.address);
    this.workerEnv.TEMPORAL_ADDRESS = this.temporal.address;
    this.worker = new WorkerProcess(this.workerEnv);
    await this.worker.start();
  }

  /** SIGKILL the worker, as a crash would, and start a fresh one. */
  async crashWorker(): Promise<void> {
    await this.worker.kill('SIGKILL');
    this.worker = new WorkerProcess(this.workerEnv);
    await this.worker.start();
  }

  /** Resolves once a detached run whose key contains `activity` exists on `host`. */
  async runStarted(host: string, activity: string, stillOpen: () => boolean): Promise<void> {
    while (!(await labExec(this.lab, host, ['ls', '/var/lib/stanzactl/runs'])).stdout.includes(activity)) {
      if (!stillOpen()) throw new Error(`the workflow ended before ${activity} started on ${host}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
