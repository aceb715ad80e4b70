import type { Command } from '../shell/command';
import type { AttemptTag } from './command-record';

/** A host as the operator reaches it: `name` for messages and known_hosts, `host` to connect. */
export interface HostAddress {
  readonly name: string;
  readonly host: string;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Kill the remote command and fail after this long. */
  readonly timeoutMs?: number;
  /** Kill the remote command and reject with the signal's reason when it aborts. */
  readonly signal?: AbortSignal;
  /** Record the command's process group on its host for this activity attempt; see command-record.ts. */
  readonly attempt?: AttemptTag;
}

/** Runs commands on hosts. Knows nothing of PostgreSQL. */
export interface Remote {
  run(host: HostAddress, command: Command, options?: RunOptions): Promise<RunResult>;
  close(): Promise<void>;
}
