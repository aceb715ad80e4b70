/**
 * Provision wall time: stanzactl's provisionCluster against bench/manual-provision.sh (the seed's
 * steps typed one by one, a fresh SSH connection each, standbys one after the other) on the same
 * lab layout, in one run. Goal: workflow ≤ 0.5 × shell.
 *
 *   npx tsc -p . && node dist/bench/provision.js [--runs N]
 *
 * Each run provisions two fresh labs, one per side, in alternating order. The worker is started
 * (and its workflow bundle built) before the clock starts: that is a one-off cost per worker,
 * not per provision. Table on stdout, progress on stderr.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectClient, startProvision, type ProvisionResult } from '../src/client';
import { labDown, labExec, labSpec, labUp, type Lab } from '../dev/lab';
import { planNetwork } from '../dev/lab/network';
import { projectRoot } from '../src/paths';
import { specSchema, type Spec } from '../src/spec/schema';
import type { StepProgress } from '../src/workflows/progress';
import { ClusterChecks } from '../tests/e2e/cluster-checks';
import { guardedTeardown, TestTemporal, WorkerProcess } from '../tests/e2e/harness';
import { slotted } from '../tests/e2e/lab-slot';

// Apart from the e2e tests' labs (stz, stzd, ...), which may run on this machine at the same time.
const { prefix: PREFIX, subnet: SUBNET } = slotted('stzb', '10.231.31.0/24');
const GOAL = 0.5;

/** What was started and must be stopped again, newest first; also what a signal tears down. */
class Resources {
  private stack: { what: string; stop: () => Promise<void> }[] = [];
  private releasing?: Promise<void>;

  add(what: string, stop: () => Promise<void>): void {
    this.stack.push({ what, stop });
  }

  /** Stops everything even when one stop fails; a second caller waits for the same release. */
  release(): Promise<void> {
    return (this.releasing ??= (async () => {
      const failed: string[] = [];
      for (let r = this.stack.pop(); r; r = this.stack.pop()) {
        try {
          await r.stop();
        } catch (e) {
          failed.push(`${r.what}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (failed.length > 0) throw new Error(`teardown incomplete:\n  ${failed.join('\n  ')}`);
    })().finally(() => (this.releasing = undefined)));
  }
}

interface Sample {
  seconds: number;
  /** Connections the operator side opened (sshd "Accepted publickey for root from <bridge>"). */
  ssh: number;
  /** 1-minute load average and other labs up when the clock stopped: signs of a disturbed number. */
  load: number;
  otherLabs: string[];
}

interface Run {
  order: string;
  shell: Sample;
  workflow: Sample;
  noop: Sample;
  shellLog: string[];
  shellPgbackrest: string[];
  pgbackrest: string[];
  steps: StepProgress[];
  noopSteps: StepProgress[];
}

const progress = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);

function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Every lab's bridge is named <prefix>-br0. */
function otherLabs(): string[] {
  return readdirSync('/sys/class/net').filter((n) => n.endsWith('-br0') && n !== `${PREFIX}-br0`).map((n) => n.slice(0, -4));
}

async function freshLab(res: Resources): Promise<{ lab: Lab; spec: Spec; checks: ClusterChecks }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'stanzactl-bench-'));
  res.add(`state dir ${stateDir}`, async () => rmSync(stateDir, { recursive: true, force: true }));
  res.add(`lab ${PREFIX}`, () => labDown({ stateDir }));
  const lab = await labUp({ layout: 'debian', prefix: PREFIX, subnet: SUBNET, stateDir });
  const spec = specSchema.parse(labSpec(lab));
  return { lab, spec, checks: new ClusterChecks(lab, spec) };
}

/** sshd on every host logs each login; the operator's come from the bridge address, pgBackRest's from the hosts. */
async function operatorConnections(lab: Lab): Promise<number> {
  const from = `Accepted publickey for root from ${planNetwork(lab.prefix, lab.subnet).bridgeIp} `;
  let n = 0;
  for (const h of lab.hosts) {
    const r = await labExec(lab, h.name, ['cat', '/var/log/sshd.log']);
    if (r.code !== 0) throw new Error(`${h.name}: cannot read /var/log/sshd.log: ${r.stderr}`);
    n += r.stdout.split('\n').filter((l) => l.includes(from)).length;
  }
  return n;
}

/**
 * pgBackRest's own durations, from its log files and the PostgreSQL server logs (archive-push and
 * archive-get log there): what of a side's time pgBackRest itself took, the same work on both sides.
 */
async function pgbackrestTimes(lab: Lab): Promise<string[]> {
  const lines: string[] = [];
  for (const h of lab.hosts) {
    const r = await labExec(lab, h.name, ['bash', '-c', 'cat /var/log/pgbackrest/*.log /var/log/postgresql/*.log 2>/dev/null | grep "command end: completed successfully" || true']);
    for (const l of r.stdout.split('\n')) {
      const m = /^\d{4}-\d\d-\d\d (\d\d:\d\d:\d\d\.\d{3}) P00 +INFO: ([a-z-]+) command end: completed successfully \((\d+)ms\)/.exec(l);
      if (m) lines.push(`${m[1]}  ${h.name.padEnd(10)}  ${m[2].padEnd(13)}  ${(Number(m[3]) / 1000).toFixed(1).padStart(5)} s`);
    }
  }
  return lines.sort().map((l) => `  ${l}`);
}

async function assertProvisioned(checks: ClusterChecks): Promise<void> {
  const streaming = await checks.streamingStandbys();
  if (streaming.join() !== checks.standbys.join()) throw new Error(`standbys streaming: [${streaming.join(', ')}], expected [${checks.standbys.join(', ')}]`);
  const backups = await checks.fullBackups();
  if (backups.length !== 1) throw new Error(`expected one full backup, found ${backups.length}`);
}

/** Runs the script in its own process group, so a teardown can stop it and every ssh it started. */
function runScript(res: Resources, args: string[], password: string): Promise<{ stdout: string; stderr: string }> {
  const child = spawn('bash', [join(projectRoot(), 'bench', 'manual-provision.sh'), ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, REPLICATION_PASSWORD: password },
  });
  res.add('manual-provision.sh', async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`manual-provision.sh exited ${code ?? signal}:\n${stderr.trim().split('\n').slice(-15).join('\n')}`));
    });
  });
}

function sample(seconds: number, ssh: number): Sample {
  return { seconds, ssh, load: loadAverage(), otherLabs: otherLabs() };
}

async function benchShell(res: Resources): Promise<{ sample: Sample; log: string[]; pgbackrest: string[] }> {
  try {
    const { lab, spec, checks } = await freshLab(res);
    const standbys = spec.nodes.filter((n) => n.role === 'standby').map((n) => `${n.name}@${n.host}`);
    const args = [
      `key=${spec.ssh.privateKeyFile}`,
      `known_hosts=${spec.ssh.knownHostsFile}`,
      `repo=${spec.repository.host}`,
      `primary=${spec.nodes.find((n) => n.role === 'primary')!.host}`,
      `standbys=${standbys.join(' ')}`,
    ];
    progress('shell: manual-provision.sh');
    const started = performance.now();
    const out = await runScript(res, args, randomBytes(12).toString('base64url'));
    const seconds = (performance.now() - started) / 1000;
    const s = sample(seconds, await operatorConnections(lab));
    await assertProvisioned(checks);
    const own = Number(/ssh-connections=(\d+)/.exec(out.stdout)?.[1]);
    if (own !== s.ssh) throw new Error(`the script counted ${own} SSH connections, the hosts' sshd logged ${s.ssh}`);
    progress(`shell: ${seconds.toFixed(1)} s, ${s.ssh} SSH connections`);
    return { sample: s, log: out.stderr.trim().split('\n').filter((l) => l.startsWith('[')), pgbackrest: await pgbackrestTimes(lab) };
  } finally {
    await res.release();
  }
}

async function benchWorkflow(res: Resources): Promise<{ first: Sample; noop: Sample; steps: StepProgress[]; noopSteps: StepProgress[]; pgbackrest: string[] }> {
  try {
    const { lab, spec, checks } = await freshLab(res);
    const temporal = new TestTemporal();
    res.add('Temporal dev server', () => temporal.stop());
    await temporal.start();
    const worker = new WorkerProcess({ STANZACTL_SECRET_REPLICATION_PASSWORD: randomBytes(12).toString('base64url'), TEMPORAL_ADDRESS: temporal.address });
    res.add('worker', () => worker.kill());
    progress('workflow: starting the worker (bundling, not timed)');
    await worker.start();
    const client = await connectClient(temporal.address);
    // Closing the connection under a pending long poll makes the SDK's retry timer throw outside any
    // promise, killing this process mid-teardown: a torn-down run cancels its calls first.
    const abort = new AbortController();
    let pending: Promise<unknown> = Promise.resolve();
    res.add('client connection', async () => {
      abort.abort();
      await pending.catch(() => undefined);
      await client.connection.close();
    });

    const provision = async (): Promise<{ seconds: number; result: ProvisionResult }> => {
      const started = performance.now();
      const run = client.withAbortSignal(abort.signal, async () => (await startProvision(client, spec)).result() as Promise<ProvisionResult>);
      pending = run;
      const result = await run;
      return { seconds: (performance.now() - started) / 1000, result };
    };
    progress('workflow: provisionCluster');
    const first = await provision();
    const firstSample = sample(first.seconds, await operatorConnections(lab));
    await assertProvisioned(checks);
    if (!first.result.changed) throw new Error('the first provision reported no change on fresh hosts');
    const pgbackrest = await pgbackrestTimes(lab);
    progress(`workflow: ${first.seconds.toFixed(1)} s, ${firstSample.ssh} SSH connections; provisionCluster again (no-op)`);
    const again = await provision();
    const noop = sample(again.seconds, (await operatorConnections(lab)) - firstSample.ssh);
    if (again.result.changed) throw new Error(`the second provision changed: ${again.result.steps.filter((s) => s.changed).map((s) => s.name).join(', ')}`);
    await assertProvisioned(checks);
    progress(`workflow: no-op ${again.seconds.toFixed(1)} s, ${noop.ssh} SSH connections`);
    return { first: firstSample, noop, steps: first.result.steps, noopSteps: again.result.steps, pgbackrest };
  } finally {
    await res.release();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function table(runs: Run[]): string {
  const cols = ['run', 'order', 'shell s', 'ssh', 'workflow s', 'ssh', 'ratio', 'no-op s', 'ssh', 'load', 'other labs'];
  const disturbed = (...xs: Sample[]) => [...new Set(xs.flatMap((x) => x.otherLabs))].join(',') || '-';
  const rows = runs.map((r, i) => [
    String(i + 1), r.order,
    r.shell.seconds.toFixed(1), String(r.shell.ssh),
    r.workflow.seconds.toFixed(1), String(r.workflow.ssh),
    (r.workflow.seconds / r.shell.seconds).toFixed(2),
    r.noop.seconds.toFixed(1), String(r.noop.ssh),
    `${r.shell.load.toFixed(1)}/${r.workflow.load.toFixed(1)}`,
    disturbed(r.shell, r.workflow, r.noop),
  ]);
  const med = (f: (r: Run) => number, digits = 1) => median(runs.map(f)).toFixed(digits);
  rows.push([
    'median', '',
    med((r) => r.shell.seconds), med((r) => r.shell.ssh, 0),
    med((r) => r.workflow.seconds), med((r) => r.workflow.ssh, 0),
    med((r) => r.workflow.seconds / r.shell.seconds, 2),
    med((r) => r.noop.seconds), med((r) => r.noop.ssh, 0),
    '', '',
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const ratio = median(runs.map((r) => r.workflow.seconds)) / median(runs.map((r) => r.shell.seconds));
  // Each run's two sides ran minutes apart under similar load: the median of per-run ratios suffers less from load drift.
  const paired = median(runs.map((r) => r.workflow.seconds / r.shell.seconds));
  return [
    line(cols),
    ...rows.map(line),
    '',
    `workflow/shell: ratio of medians ${ratio.toFixed(2)}, median of per-run ratios ${paired.toFixed(2)}; goal ≤ ${GOAL}: ${Math.max(ratio, paired) <= GOAL ? 'met' : 'NOT met'}`,
    'ssh = SSH connections the operator side opened (hosts\' sshd logs); load = 1-min load average when the shell/workflow clock stopped;',
    'other labs = lab bridges of other prefixes up meanwhile (e2e tests sharing the 2 cores).',
  ].join('\n');
}

function stepLines(steps: StepProgress[]): string[] {
  const t0 = Math.min(...steps.map((s) => s.startedAt));
  const secs = (ms: number) => (ms / 1000).toFixed(1).padStart(5);
  return steps.map((s) => `  +${secs(s.startedAt - t0)} s  ${secs((s.endedAt ?? s.startedAt) - s.startedAt)} s  ${s.name}`);
}

function breakdown(run: Run): string {
  return [
    'Last run, shell script (seconds since its start):', ...run.shellLog.map((l) => `  ${l}`), '',
    'Last run, shell side, pgBackRest\'s own time (its logs; archive-push and archive-get in the server logs):', ...run.shellPgbackrest, '',
    'Last run, workflow steps (start offset, duration):', ...stepLines(run.steps), '',
    'Last run, workflow side, pgBackRest\'s own time:', ...run.pgbackrest, '',
    'Last run, no-op provision steps:', ...stepLines(run.noopSteps),
  ].join('\n');
}

function parseRuns(argv: string[]): number {
  if (argv.length === 0) return 3;
  const m = argv.length <= 2 ? /^--runs(?:=(\d+))?$/.exec(argv[0]) : null;
  const n = Number(m?.[1] ?? argv[1]);
  if (!m || !Number.isInteger(n) || n < 1 || (m[1] !== undefined && argv.length > 1)) throw new Error('usage: node dist/bench/provision.js [--runs N]');
  return n;
}

async function main(): Promise<void> {
  const runs = parseRuns(process.argv.slice(2));
  const res = new Resources();
  const teardown = guardedTeardown(() => res.release());
  const done: Run[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      // Alternating, so that neither side always gets the cooler (or warmer) machine.
      const shellFirst = i % 2 === 0;
      progress(`run ${i + 1}/${runs} (${shellFirst ? 'shell first' : 'workflow first'})`);
      let shell: Awaited<ReturnType<typeof benchShell>>;
      let wf: Awaited<ReturnType<typeof benchWorkflow>>;
      if (shellFirst) {
        shell = await benchShell(res);
        wf = await benchWorkflow(res);
      } else {
        wf = await benchWorkflow(res);
        shell = await benchShell(res);
      }
      done.push({ order: shellFirst ? 'shell→wf' : 'wf→shell', shell: shell.sample, workflow: wf.first, noop: wf.noop, shellLog: shell.log, shellPgbackrest: shell.pgbackrest, pgbackrest: wf.pgbackrest, steps: wf.steps, noopSteps: wf.noopSteps });
    }
  } finally {
    await teardown();
  }
  process.stdout.write(`${table(done)}\n\n${breakdown(done[done.length - 1])}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
