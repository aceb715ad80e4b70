import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { StatusFacts } from '../facts/status';
import type { Spec } from '../spec/schema';
import { quick } from './profiles';
import { titled } from './steps';
import { checkInput } from './input';

const acts = proxyActivities<Activities>(quick);


/** Reads the repository and every node at once; judging the facts is the caller's business. */
export async function stanzaStatus(spec: Spec): Promise<StatusFacts> {
  checkInput('stanzaStatus', spec);
  const standbys = spec.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
  const [repository, primary, standbyFacts] = await Promise.all([
    acts.repositoryStatus.executeWithOptions(titled(quick, `pgbackrest info ${spec.stanza}`), [spec]),
    acts.primaryStatus.executeWithOptions(titled(quick, 'archiver and replication on the primary'), [spec]),
    Promise.all(standbys.map((node) => acts.standbyStatus.executeWithOptions(titled(quick, `recovery state of ${node}`), [spec, node]))),
  ]);
  return { stanza: spec.stanza, repository, primary, standbys: standbyFacts };
}
