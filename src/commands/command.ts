import { parseArgs } from 'node:util';

/** A `stanzactl <name>` subcommand: its help text and what it runs; the exit code is its result. */
export interface CliCommand {
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
