import { asUser, cmd, type Command } from '../shell/command';
import type { HostAddress, RunResult } from '../remote/types';
import { classifyPgbackrestExit, pgbackrestErrorLine } from '../facts/pgbackrest-exit';
import type { Spec } from '../spec/schema';
import type { HostOps } from './host-ops';

/** pgBackRest's exit status is its error code: it decides whether a retry can help. */
export class PgbackrestError extends Error {
  override readonly name = 'PgbackrestError';
  readonly retryable: boolean;
  /** pgBackRest's name for the error, e.g. FileWriteError. */
  readonly kind: string;
  /** `note`: a fact read after the failure that explains it (e.g. the free space where the write failed). */
  constructor(readonly host: string, readonly code: number, readonly output: string, note?: string) {
    const kind = classifyPgbackrestExit(code, output);
    super(`pgBackRest on ${host} failed with ${kind.name} (exit ${code}): ${pgbackrestErrorLine(output) ?? lastLines(output)}${note ? `\n${note}` : ''}`);
    this.retryable = kind.retryable;
    this.kind = kind.name;
  }
}

function lastLines(output: string): string {
  return output.trim().split('\n').slice(-5).join(' | ') || 'no output';
}

/** `pgbackrest --stanza=S <args>` as the user that owns the repository or the cluster on that host. */
export function pgbackrestCommand(user: string, stanza: string, ...args: string[]): Command {
  return asUser(user, cmd('pgbackrest', `--stanza=${stanza}`, ...args));
}

export function throwIfFailed(host: HostAddress, r: RunResult): RunResult {
  if (r.code !== 0) throw new PgbackrestError(host.name, r.code, `${r.stdout}\n${r.stderr}`);
  return r;
}

export async function runPgbackrest(ops: HostOps, host: HostAddress, user: string, spec: Spec, ...args: string[]): Promise<string> {
  const r = throwIfFailed(host, await ops.run(host, pgbackrestCommand(user, spec.stanza, ...args)));
  return r.stdout;
}
