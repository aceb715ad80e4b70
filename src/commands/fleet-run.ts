import { failureMessage } from '../client';
import type { SpecFile } from '../spec/load-dir';
import type { Spec } from '../spec/schema';

/** How one stanza's run ended, in one line. */
export interface RunEnd {
  readonly ok: boolean;
  readonly line: string;
}

/** Starts a stanza's workflow (calling `started` with its id), waits for it and says how it ended. */
export type StanzaRun = (spec: Spec, started: (workflowId: string) => void) => Promise<RunEnd>;

/**
 * Each line's name for its stanza: the stanza, with its repository host where another spec of the
 * fleet has the same stanza (on another repository: the loader refuses the same one).
 */
export function stanzaLabels(specs: readonly SpecFile[]): string[] {
  const twice = (stanza: string) => specs.filter((s) => s.spec.stanza === stanza).length > 1;
  return specs.map(({ spec }) => (twice(spec.stanza) ? `${spec.stanza} (${spec.repository.host})` : spec.stanza));
}

/**
 * `run` for every spec at once (each workflow takes its stanza's own lock; queueing per repository
 * host is the workers' business), following them all: per stanza, a line with its workflow as it
 * starts and one as it ends, then a count. Exit 0 when every run ended ok, 1 when any failed.
 */
export async function runFleet(specs: readonly SpecFile[], run: StanzaRun, print: (line: string) => void): Promise<number> {
  const labels = stanzaLabels(specs);
  const oks = await Promise.all(specs.map(async ({ spec }, i) => {
    const say = (line: string) => print(`${labels[i]}: ${line}`);
    try {
      const end = await run(spec, (id) => say(`workflow ${id}`));
      say(end.line);
      return end.ok;
    } catch (e) {
      say(`FAILED: ${failureMessage(e)}`);
      return false;
    }
  }));
  const failed = oks.filter((ok) => !ok).length;
  print(`${specs.length} stanza${specs.length === 1 ? '' : 's'}: ${specs.length - failed} ok, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
