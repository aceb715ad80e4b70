import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { stateDir, temporalCli } from './paths';

export interface DevServerOptions {
  readonly dbFile?: string;
  readonly ip?: string;
  readonly port?: number;
  readonly uiPort?: number;
  readonly headless?: boolean;
  readonly stdio?: 'inherit' | 'ignore';
}

/** SDK options of the dev server's per-namespace worker, which runs the Schedules. */
export const SCHEDULER_WORKER_OPTIONS = { MaxConcurrentWorkflowTaskPollers: 16, MaxConcurrentActivityTaskPollers: 4 } as const;

/** `temporal server start-dev` on a SQLite file, so workflows survive a server restart. */
export function startDevServer(o: DevServerOptions = {}): { child: ChildProcess; address: string; uiUrl?: string; dbFile: string } {
  const cli = temporalCli();
  if (!existsSync(cli)) throw new Error(`Temporal CLI not found at ${cli}: run scripts/setup.sh, or set TEMPORAL_CLI`);
  const dbFile = o.dbFile ?? join(stateDir(), 'temporal.db');
  mkdirSync(join(dbFile, '..'), { recursive: true });
  const ip = o.ip ?? '127.0.0.1';
  const port = o.port ?? 7233;
  const uiPort = o.uiPort ?? port + 1000;
  const child = spawn(cli, devServerArgs(dbFile, ip, port, uiPort, o.headless), { stdio: o.stdio ?? 'inherit' });
  return { child, address: `${ip}:${port}`, uiUrl: o.headless ? undefined : `http://${ip}:${uiPort}`, dbFile };
}

/** The command line of `temporal server start-dev` (tests/unit/server-args.test.ts). */
export function devServerArgs(dbFile: string, ip: string, port: number, uiPort: number, headless = false): string[] {
  const args = ['server', 'start-dev', '--db-filename', dbFile, '--ip', ip, '--port', String(port), '--log-level', 'warn'];
  // SQLite in write-ahead-log mode: a commit appends to the log and syncs it once, where SQLite's
  // default rollback journal syncs the journal and then the database on every commit, and the
  // server commits several times per workflow step. synchronous=FULL keeps each commit durable
  // across a power cut, as the rollback journal does (NORMAL would not). 50 Schedules firing in the
  // same second, no worker (bench/schedule-delay.ts): start delay p99 2.1 s with the rollback
  // journal, 1.0 s with this (bench/README.md "Fleet budget").
  args.push('--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=FULL');
  // Each Schedule is a scheduler workflow run by the server's own per-namespace worker, whose SDK
  // defaults poll with 2 workflow task pollers: a few actions a second, so 50 Schedules firing in
  // the same minute queued there behind each other (and behind our worker's load on the server):
  // p99 2.8 s with stanzactl's worker running, 0.9 s with 16 pollers (bench/README.md "Fleet budget").
  args.push('--dynamic-config-value', `worker.perNamespaceWorkerOptions=${JSON.stringify(SCHEDULER_WORKER_OPTIONS)}`);
  args.push(...(headless ? ['--headless'] : ['--ui-port', String(uiPort)]));
  return args;
}

/** Resolves once something accepts TCP connections on the address. */
export async function waitForPort(address: string, timeoutMs = 30_000): Promise<void> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect({ host, port }, () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${address} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
