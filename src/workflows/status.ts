import type { StatusFacts } from '../facts/status';
import type { Spec } from '../spec/schema';
import { quick } from './profiles';
import { call } from './steps';
import { checkInput } from './input';

/** Reads the repository and every node at once; judging the facts is the caller's business. */
export async function stanzaStatus(spec: Spec): Promise<StatusFacts> {
  checkInput('stanzaStatus', spec);
  const standbys = spec.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
  // Only specs with drills read the drill record: no spec before drills existed had one, so recorded histories replay unchanged.
  const [repository, primary, standbyFacts, drill] = await Promise.all([
    call('repositoryStatus', quick, `pgbackrest info ${spec.stanza}`, spec),
    call('primaryStatus', quick, 'archiver and replication on the primary', spec),
    Promise.all(standbys.map((node) => call('standbyStatus', quick, `recovery state of ${node}`, spec, node))),
    spec.drills ? call('drillStatus', quick, `last restore drill of ${spec.stanza}`, spec) : undefined,
  ]);
  return { stanza: spec.stanza, repository, primary, standbys: standbyFacts, ...(drill && { drill }) };
}
