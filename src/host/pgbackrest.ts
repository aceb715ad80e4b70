import { asUser, cmd, type Command } from '../shell/command';
import type { HostAddress, RunResult } from '../remote/types';
import { classifyPgbackrestExit, pgbackrestErrorLine } from '../facts/pgbackrest-exit';
import type { RepoIndex, Spec } from '../spec/schema';
import type { HostOps } from './host-ops';
import { refuse } from './failures';
import { OFFSITE_ARCHIVE_TIMEOUT_SECONDS } from '../render/pgbackrest-conf';

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

/**
 * `--repo=N` once the stanza has an offsite repository: pgBackRest asks for it then on backup,
 * expire and restore-like commands, and a stanza with repo1 alone keeps the command lines it had.
 */
export function repoArgs(spec: Pick<Spec, 'offsite'>, repo: RepoIndex): string[] {
  requireRepo(spec, repo);
  return spec.offsite ? [`--repo=${repo}`] : [];
}

/**
 * pgBackRest waits io-timeout (60 s by default) on each of its four reads of an unreachable object
 * store, longer together than a step's 3 minutes: with an offsite repository, a read of the stanza
 * gives up on it within this bound instead, and reports it in the repository's status.
 */
export const INFO_IO_TIMEOUT_SECONDS = 10;

/** `info --output=json` of the stanza, in every repository or in `repo` alone. */
export function infoArgs(spec: Pick<Spec, 'offsite'>, repo?: RepoIndex): string[] {
  const scope = repo === undefined ? [] : repoArgs(spec, repo);
  return ['info', '--output=json', ...scope, ...(spec.offsite ? [`--io-timeout=${INFO_IO_TIMEOUT_SECONDS}`] : [])];
}

/**
 * A backup's last segment can take several io-timeouts to reach repo1 while repo2 is out of reach
 * (render/pgbackrest-conf.ts OFFSITE_ARCHIVE_TIMEOUT_SECONDS); only backups wait longer for it, not
 * `check`, and not when the spec's repository.options says otherwise.
 */
export function backupArchiveArgs(spec: Pick<Spec, 'offsite' | 'repository'>): string[] {
  return spec.offsite && spec.repository.options?.['archive-timeout'] === undefined ? [`--archive-timeout=${OFFSITE_ARCHIVE_TIMEOUT_SECONDS}`] : [];
}

/** Refuses (non-retryable) a repository the spec does not configure. */
export function requireRepo(spec: Pick<Spec, 'offsite'>, repo: RepoIndex): void {
  if (repo !== 1 && !spec.offsite) throw refuse(`repo${repo} is asked for, but the spec has no offsite: repository`, 'NoSuchRepository');
}

/** What tells repo2's detached run from repo1's in one workflow run (none for repo1: its runs keep their keys). */
export function repoPart(repo: RepoIndex): string | undefined {
  return repo === 1 ? undefined : `repo${repo}`;
}
