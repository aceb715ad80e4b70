import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostOps } from '../../../src/host/host-ops';
import { stdinValue, toShellLine, type Command } from '../../../src/shell/command';
import type { HostAddress, Remote, RunResult } from '../../../src/remote/types';

// Our bash programs run here as a host runs them: the same line through `sh -c` as root, stdin
// included, on this machine's bash, with fake commands first on PATH where a test needs them.

export const HOST: HostAddress = { name: 'local', host: 'localhost' };
export const isRoot = process.getuid?.() === 0;

/**
 * A temp directory for one test file, removed by `cleanup`: below the build output, whose
 * ancestors are root's alone (the path guard refuses to work as root below /tmp, which is not).
 */
export function scratch(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(__dirname, '..', '..', '..', `.${prefix}-`));
  chmodSync(dir, 0o755);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes an executable fake command `name` into `bin` (a bash body). */
export function fake(bin: string, name: string, body: string): void {
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, name), `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

/** Runs a command locally; `bin` goes first on PATH. */
export function runLocal(c: Command, bin?: string): RunResult {
  const env = bin ? { ...process.env, PATH: `${bin}:${process.env.PATH}` } : process.env;
  const r = spawnSync('sh', ['-c', toShellLine(c, 'root')], { input: stdinValue(c) ?? '', encoding: 'utf8', env });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function localRemote(bin?: string): Remote {
  return { run: async (_h, c) => runLocal(c, bin), close: async () => undefined };
}

export function localOps(bin?: string): HostOps {
  return new HostOps(localRemote(bin));
}
