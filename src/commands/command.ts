import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { clientFor, failureMessage } from '../client';
import { temporalTarget, type TemporalTarget } from '../connection';

/** A `stanzactl <name>` subcommand: its help text and what it runs; the exit code is its result. */
export interface CliCommand {
  /** The command and its main arguments, for the list of commands. */
  readonly usage: string;
  readonly summary: string;
  readonly help: string;
  run(args: string[]): Promise<number>;
}

/** Wrong words on the command line: printed with the command's help, exit 2. */
export class UsageError extends Error {}

export function specArg(args: string[]): string {
  const { values } = parseArgs({ args, options: { spec: { type: 'string' } }, strict: true });
  if (!values.spec) throw new UsageError('--spec FILE is required');
  return values.spec;
}

/**
 * Runs `fn` with a Temporal client and closes it after. A failure is printed as
 * "<verb> failed: <the message a DBA can act on>" and exits 1.
 */
export async function withClient(verb: string, fn: (client: Client, target: TemporalTarget) => Promise<number>): Promise<number> {
  const target = temporalTarget();
  const client = await clientFor(target);
  try {
    return await fn(client, target);
  } catch (e) {
    console.error(`${verb} failed: ${failureMessage(e)}`);
    return 1;
  } finally {
    await client.connection.close();
  }
}
