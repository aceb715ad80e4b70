import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { Client } from '@temporalio/client';
import { connectClient, startProvision } from '../../src/client';
import { labDown, labExec, labSpec, labUp, SCRATCH_HOST, type Lab, type LabHost, type LabLayout } from '../../dev/lab';
import { specSchema, type Spec } from '../../src/spec/schema';
import { ClusterChecks } from './cluster-checks';
import { guardedTeardown, runCli, TestTemporal, WorkerProcess } from './harness';
import { slotted } from './lab-slot';

// An operator account as many sites have it: key login, password-less sudo ($2: its rules), no
// root login needed. visudo: a file sudo cannot parse would fail later as "sudo: a password is required".
const SUDO_USER = `set -eu
useradd --create-home --shell /bin/bash "$1"
install -d -m 700 -o "$1" -g "$1" "/home/$1/.ssh"
install -m 600 -o "$1" -g "$1" /root/.ssh/authorized_keys "/home/$1/.ssh/authorized_keys"
printf '%s' "$2" > "/etc/sudoers.d/$1"
chmod 440 "/etc/sudoers.d/$1"
visudo -cqf "/etc/sudoers.d/$1"`;

/** A lab, a Temporal dev server of its own and a worker process: what every provision test needs. */
export class ProvisionFixture {
  readonly temporal = new TestTemporal();
  readonly stateDir = mkdtempSync(join(tmpdir(), 'stanzactl-lab-'));
  readonly workerEnv: Record<string, string> = { STANZACTL_SECRET_REPLICATION_PASSWORD: randomBytes(12).toString('base64url') };
  lab!: Lab;
  spec!: Spec;
  client!: Client;
  worker!: WorkerProcess;
  checks!: ClusterChecks;
  readonly teardown = guardedTeardown(async () => {
    // The lab first: closing the client under a pending call can throw from a grpc timer.
    await this.worker?.kill();
    await labDown({ stateDir: this.stateDir });
    await this.client?.connection.close();
    await this.temporal.stop();
    rmSync(this.stateDir, { recursive: true, force: true });
  });

  /**
   * `sudoUser`: stanzactl logs in as this user with password-less sudo instead of root, under the
   * rules `sudoers` (the text of /etc/sudoers.d/<sudoUser>; absent = ALL).
   */
  constructor(private readonly layout: LabLayout, private readonly prefix: string, private readonly subnet: string, private readonly sudoUser?: string, private readonly sudoers?: string) {}

  private s3 = false;

  /** The lab gets its S3 server (lab.s3) and the worker its keys, as STANZACTL_SECRET_S3_ACCESS and _SECRET. */
  withS3(): this {
    this.s3 = true;
    return this;
  }

  async setUp(): Promise<void> {
    await this.temporal.start();
    this.lab = await labUp({ layout: this.layout, ...slotted(this.prefix, this.subnet), stateDir: this.stateDir, s3: this.s3 });
    if (this.lab.s3) Object.assign(this.workerEnv, { STANZACTL_SECRET_S3_ACCESS: this.lab.s3.accessKey, STANZACTL_SECRET_S3_SECRET: this.lab.s3.secretKey });
    const spec = specSchema.parse(labSpec(this.lab));
    if (this.sudoUser) await Promise.all(this.lab.hosts.map((h) => this.addSudoUser(h.name, this.sudoUser!)));
    this.spec = this.sudoUser ? { ...spec, ssh: { ...spec.ssh, user: this.sudoUser } } : spec;
    this.checks = new ClusterChecks(this.lab, this.spec);
    this.client = await connectClient(this.temporal.address);
    this.workerEnv.TEMPORAL_ADDRESS = this.temporal.address;
    this.worker = new WorkerProcess(this.workerEnv);
    await this.worker.start();
  }

  /** The lab's scratch host (restores, drills): PostgreSQL and pgBackRest installed, no cluster, no spec node. */
  get scratch(): LabHost {
    return this.lab.hosts.find((h) => h.name === SCRATCH_HOST)!;
  }

  private async addSudoUser(host: string, user: string): Promise<void> {
    const rules = this.sudoers ?? `${user} ALL=(ALL:ALL) NOPASSWD: ALL\n`;
    const r = await labExec(this.lab, host, ['bash', '-c', SUDO_USER, 'stanzactl', user, rules]);
    if (r.code !== 0) throw new Error(`${host}: cannot add ${user}: ${r.stderr}`);
  }

  /** SIGKILL the worker, as a crash would, and start a fresh one. */
  async crashWorker(): Promise<void> {
    await this.worker.kill('SIGKILL');
    this.worker = new WorkerProcess(this.workerEnv);
    await this.worker.start();
  }

  /** Resolves once workflow run `runId` has started the detached run of `activity` on `host`. */
  async runStarted(host: string, runId: string, activity: string, stillOpen: () => boolean): Promise<void> {
    const key = `.${runId}.${activity}.`;
    while (!(await labExec(this.lab, host, ['ls', '/var/lib/stanzactl/runs'])).stdout.includes(key)) {
      if (!stillOpen()) throw new Error(`the workflow ended before ${activity} started on ${host}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * Hooks of a describe(): the fixture's lab provisioned before its tests and gone after them, also
 * when they fail. Returns the CLI run against the spec (the provisioned one as `asWritten` makes it,
 * e.g. with a drills: section), written to a file as a user has it.
 */
export function provisionedCluster(f: ProvisionFixture, asWritten: (spec: Spec) => Spec = (s) => s): (...args: string[]) => ReturnType<typeof runCli> {
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-spec-'));
  const specFile = join(dir, 'spec.json');
  before(async () => {
    await f.setUp();
    writeFileSync(specFile, JSON.stringify(asWritten(f.spec)));
    await (await startProvision(f.client, f.spec)).result();
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await f.teardown();
  });
  return (...args) => runCli([...args, '--spec', specFile], f.workerEnv);
}
