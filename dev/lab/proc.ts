import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';

export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; a signal death counts as 128 + signal number, like a shell. */
export function runProgram(file: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const sig = signal ? 128 + os.constants.signals[signal] : 0;
      resolve({ code: code ?? sig, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    // A child that exits without reading its input must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Like runProgram, but a non-zero exit is an error carrying the command and its stderr. */
export async function mustRun(file: string, args: string[], opts: { input?: string } = {}): Promise<string> {
  const r = await runProgram(file, args, opts);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** True while the process exists and is not a zombie. */
export function processLive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may itself contain ") ".
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function processExists(pid: number): boolean {
  return pid > 0 && fs.existsSync(`/proc/${pid}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
