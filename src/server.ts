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

/** `temporal server start-dev` on a SQLite file, so workflows survive a server restart. */
export function startDevServer(o: DevServerOptions = {}): { child: ChildProcess; address: string; uiUrl?: string; dbFile: string } {
  const cli = temporalCli();
  if (!existsSync(cli)) throw new Error(`Temporal CLI not found at ${cli}: run scripts/setup.sh, or set TEMPORAL_CLI`);
  const dbFile = o.dbFile ?? join(stateDir(), 'temporal.db');
  mkdirSync(join(dbFile, '..'), { recursive: true });
  const ip = o.ip ?? '127.0.0.1';
  const port = o.port ?? 7233;
  const uiPort = o.uiPort ?? port + 1000;
  const args = ['server', 'start-dev', '--db-filename', dbFile, '--ip', ip, '--port', String(port), '--log-level', 'warn'];
  args.push(...(o.headless ? ['--headless'] : ['--ui-port', String(uiPort)]));
  const child = spawn(cli, args, { stdio: o.stdio ?? 'inherit' });
  return { child, address: `${ip}:${port}`, uiUrl: o.headless ? undefined : `http://${ip}:${uiPort}`, dbFile };
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
