import type { Command } from './command';

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
}

/** Runs commands on hosts. Knows nothing of PostgreSQL. */
export interface Remote {
  run(host: HostAddress, command: Command, options?: RunOptions): Promise<RunResult>;
  close(): Promise<void>;
}
