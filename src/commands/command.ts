import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { clientFor, failureMessage } from '../client';
import { temporalTarget, type TemporalTarget } from '../connection';
import { loadSpecDir, loadSpecFile, type SpecFile, type SpecNeed } from '../spec/load-dir';
import type { RepoIndex, Spec } from '../spec/schema';

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

/** `--repo 1|2`: the repository a backup, restore or drill uses; 2 is the spec's offsite: one. Absent when not given. */
export function repoOption(value: string | undefined, specs: readonly Pick<Spec, 'offsite' | 'stanza'>[]): RepoIndex | undefined {
  if (value === undefined) return undefined;
  if (value !== '1' && value !== '2') throw new UsageError(`--repo must be 1 (the repository host) or 2 (offsite), not ${JSON.stringify(value)}`);
  const without = specs.filter((s) => !s.offsite).map((s) => s.stanza);
  if (value === '2' && without.length > 0) throw new UsageError(`--repo 2: stanza(s) ${without.join(', ')} have no offsite: repository`);
  return value === '2' ? 2 : 1;
}

export function specArg(args: string[]): string {
  const { values } = parseArgs({ args, options: { spec: { type: 'string' } }, strict: true });
  if (!values.spec) throw new UsageError('--spec FILE is required');
  return values.spec;
}

/** The parseArgs options of the commands that act on one spec or on a fleet. */
export const SPECS_OPTIONS = { spec: { type: 'string' }, specs: { type: 'string' } } as const;

/** The specs a command acts on, and whether they came as a fleet (`--specs DIR`). */
export interface SpecsChoice {
  readonly fleet: boolean;
  readonly specs: SpecFile[];
}

/**
 * `--spec FILE` or `--specs DIR`, exactly one; every spec is loaded and checked here, before the
 * command connects to anything, so a bad one refuses the whole command (SpecError, exit 2).
 */
export function loadSpecs(values: { spec?: string; specs?: string }, need?: SpecNeed): SpecsChoice {
  if (values.spec && values.specs) throw new UsageError('--spec FILE and --specs DIR exclude each other');
  if (values.specs) return { fleet: true, specs: loadSpecDir(values.specs, need) };
  if (values.spec) return { fleet: false, specs: [loadSpecFile(values.spec, need)] };
  throw new UsageError('--spec FILE or --specs DIR is required');
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
