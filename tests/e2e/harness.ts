import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { projectRoot } from '../../src/paths';
import { startDevServer } from '../../src/server';

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((r) => child.once('exit', r));
}

/** Waits until the frontend answers gRPC, not just TCP: the dev server opens its port early. */
export async function waitForTemporal(address: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const c = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await c.workflowService.getSystemInfo({});
        return;
      } finally {
        await c.close();
      }
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`Temporal at ${address} not ready after ${timeoutMs} ms: ${e}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** A real Temporal dev server on its own port and SQLite file, restartable on that file. */
export class TestTemporal {
  private child?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), 'stanzactl-temporal-'));
  readonly dbFile = join(this.dir, 'temporal.db');
  address = '';
  private port = 0;

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const s = startDevServer({ dbFile: this.dbFile, port: this.port, headless: true, stdio: 'ignore' });
    this.child = s.child;
    this.address = s.address;
    await waitForTemporal(this.address);
  }

  /** SIGKILL: the server gets no chance to flush anything but what SQLite already holds. */
  async kill(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await exited(this.child);
    this.child = undefined;
  }

  async stop(): Promise<void> {
    if (this.child) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
      await exited(this.child);
      clearTimeout(t);
      this.child = undefined;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * `stanzactl worker` (or another worker command line, `argv`) as its own process, so a test can
 * SIGKILL it like a crash would. With `restartOnCrash`, a worker that dies without `kill()` (a fault
 * plan's SIGKILL) is started again at once, as a supervisor would; `restarts` keeps when each died
 * and polled again.
 */
export class WorkerProcess {
  private child?: ChildProcess;
  private stopping = false;
  private restarting?: Promise<void>;
  output = '';
  readonly restarts: { diedAt: number; readyAt?: number }[] = [];

  constructor(
    private readonly env: Record<string, string>,
    private readonly restartOnCrash = false,
    private readonly argv = [join(projectRoot(), 'bin', 'stanzactl.js'), 'worker'],
  ) {}

  /** The SDK's default worker identity is `<pid>@<hostname>`: this names the process behind one. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    this.stopping = false;
    const child = spawn(process.execPath, this.argv, {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let output = '';
    child.stdout?.on('data', (d) => ((output += d), (this.output += d)));
    child.stderr?.on('data', (d) => ((output += d), (this.output += d)));
    if (this.restartOnCrash) child.once('exit', () => this.crashed(child));
    // The worker prints its polling line once the bundle is built and it is registered.
    const deadline = Date.now() + 90_000;
    while (!output.includes('polling task queue')) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`worker exited early:\n${output}`);
      if (Date.now() > deadline) throw new Error(`worker not ready:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private crashed(child: ChildProcess): void {
    if (this.stopping || child !== this.child) return;
    const restart = { diedAt: Date.now(), readyAt: undefined as number | undefined };
    this.restarts.push(restart);
    this.restarting = this.start().then(() => void (restart.readyAt = Date.now()), (e: unknown) => {
      if (!this.stopping) this.output += `\nrestart failed: ${e}\n`;
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.stopping = true;
    await this.restarting;
    if (!this.child) return;
    this.child.kill(signal);
    await exited(this.child);
    this.child = undefined;
  }
}

/** The workflows bundled once per test run, for workers that restart in a second or two. */
export async function buildWorkflowBundle(dir: string): Promise<string> {
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows') });
  const path = join(dir, 'workflow-bundle.js');
  writeFileSync(path, code);
  return path;
}

/**
 * Runs `teardown` on SIGINT/SIGTERM as well as from `after()`: a test run stopped from outside
 * must not leave its lab, server or workers behind. On a signal every teardown not yet done runs,
 * and the process exits once all of them are. Returns the teardown, made idempotent.
 */
export function guardedTeardown(teardown: () => Promise<void>): () => Promise<void> {
  let once: Promise<void> | undefined;
  const run = (): Promise<void> => (once ??= teardown().finally(() => pendingTeardowns.delete(run)));
  pendingTeardowns.add(run);
  if (!signalsHandled) {
    process.once('SIGINT', onTeardownSignal);
    process.once('SIGTERM', onTeardownSignal);
    signalsHandled = true;
  }
  return run;
}

// One handler for the process: each fixture's own exited once its teardown was done, cutting the
// others' short (a fault matrix stopped by SIGTERM left two labs, two servers and four workers).
const pendingTeardowns = new Set<() => Promise<void>>();
let signalsHandled = false;

function onTeardownSignal(signal: NodeJS.Signals): void {
  void Promise.allSettled([...pendingTeardowns].map((t) => t())).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}

/** Polls `f` until it gives something other than undefined or false, and returns that; fails naming `what`. */
export async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 90_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `stanzactl ARGS` as a user runs it; resolves with its exit code and output. */
/** A string as a regular expression that matches it literally (keys hold '+' and '/', addresses '.'). */
export const literally = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(projectRoot(), 'bin', 'stanzactl.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((res) => child.on('exit', (c) => res(c ?? -1)));
  return { code, stdout, stderr };
}
