import { describe, Secret, type Command } from '../shell/command';
import { blobKeyType, fingerprint, type HostKeyVerdict } from './known-hosts';
import type { HostAddress, RunResult } from './types';

/**
 * Errors of the remote layer. Each knows whether trying again can help (`retryable`) and has a
 * stable `name`, which activities turn into the ApplicationFailure type the retry policy sees.
 */

function where(host: HostAddress): string {
  return host.name === host.host ? host.name : `${host.name} (${host.host})`;
}

/** The host presented a key that knownHostsFile does not pin for it. Never retried: a human must look. */
export class HostKeyError extends Error {
  override readonly name = 'HostKeyError';
  readonly retryable = false;
  readonly fingerprint: string;

  constructor(
    readonly host: HostAddress,
    readonly port: number,
    readonly knownHostsFile: string,
    presentedKey: Buffer,
    readonly verdict: Exclude<HostKeyVerdict, 'accepted'>,
  ) {
    const fp = fingerprint(presentedKey);
    const type = blobKeyType(presentedKey) ?? 'unknown-type';
    const why = {
      unknown: `has no key for it in ${knownHostsFile}`,
      changed: `pins a DIFFERENT key for it in ${knownHostsFile} (the host key changed, or this is not the host)`,
      revoked: `marks its key @revoked in ${knownHostsFile}`,
    }[verdict];
    super(`host key verification failed for ${host.name} at ${host.host}:${port}: known_hosts ${why}; the host presented ${type} ${fp}`);
    this.fingerprint = fp;
  }
}

/** Could not connect, authenticate, or keep the connection. Transient unless authentication was refused. */
export class SshConnectError extends Error {
  override readonly name = 'SshConnectError';

  constructor(
    readonly host: HostAddress,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${where(host)}: ${message}`, options);
  }
}

/**
 * A remote command ran longer than allowed and was killed. Transient: the next attempt may be
 * faster, and detached runs are re-attached rather than restarted.
 */
export class RemoteTimeoutError extends Error {
  override readonly name = 'RemoteTimeoutError';
  readonly retryable = true;

  constructor(
    readonly host: HostAddress,
    readonly timeoutMs: number,
    what: string,
  ) {
    super(`${where(host)}: timed out after ${timeoutMs} ms ${what}`);
  }
}

const TAIL_LINES = 20;

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Tools echo their inputs in error messages; the secrets a command carried must not reach a log that way. */
function maskSecrets(text: string, c: Command): string {
  const secrets = [...c.argv, c.stdin].filter((a): a is Secret => a instanceof Secret && a.value !== '');
  return secrets.reduce((t, s) => t.split(s.value).join('***'), text);
}

/**
 * A command exited non-zero. Retryable by default, since most of ours are idempotent and fail for
 * passing reasons (locks, a peer restarting); an activity that knows a failure is final says so.
 */
export class RemoteCommandError extends Error {
  override readonly name = 'RemoteCommandError';
  readonly description: string;
  readonly code: number;
  readonly outputTail: string;

  constructor(
    readonly host: HostAddress,
    command: Command,
    result: RunResult,
    readonly retryable = true,
  ) {
    const description = describe(command);
    const output = tail(maskSecrets(result.stderr.trim() !== '' ? result.stderr : result.stdout, command), TAIL_LINES);
    super(`${where(host)}: exit code ${result.code} from ${description}${output === '' ? '' : `\n${output}`}`);
    this.description = description;
    this.code = result.code;
    this.outputTail = output;
  }
}

/** A timeout's message carries the whole script it ran: its first line says enough here. */
function firstLine(text: string): string {
  const line = text.split('\n', 1)[0];
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * A host stayed unreachable for longer than the budget a long command may wait for it. Never
 * retried: the budget was the retry; a human should find out why the host is gone.
 */
export class HostAwayError extends Error {
  override readonly name = 'HostAwayError';
  readonly retryable = false;

  constructor(
    readonly host: HostAddress,
    readonly awayMs: number,
    readonly budgetMs: number,
    what: string,
    last: Error,
  ) {
    // The last error goes into the message, not the cause chain: a DBA reads the innermost
    // failure, and that must say the host was away, not which try failed last.
    super(`${where(host)}: unreachable for ${Math.round(awayMs / 1000)} s ${what}, longer than the ${Math.round(budgetMs / 1000)} s a host may be away (STANZACTL_HOST_AWAY_SECONDS); last error: ${firstLine(last.message)}`);
  }
}
