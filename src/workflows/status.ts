import { patched } from '@temporalio/workflow';
import type { StatusFacts } from '../facts/status';
import { withObservedRoles } from '../facts/topology';
import type { Spec } from '../spec/schema';
import { quick } from './profiles';
import { call } from './steps';
import { checkInput } from './input';

// Runs started before roles were read schedule the spec's primary and standbys at once.
const STATUS_TOPOLOGY = 'status-topology';

/**
 * Reads every node's role, then the repository and every node at once, each node as what it was
 * found to be (the spec's roles may be out of date); judging the facts is the caller's business.
 */
export async function stanzaStatus(spec: Spec): Promise<StatusFacts> {
  checkInput('stanzaStatus', spec);
  const topologyRead = patched(STATUS_TOPOLOGY);
  // Only specs with drills read the drill record: no spec before drills existed had one, so recorded histories replay unchanged.
  const [repository, roles, drill] = await Promise.all([
    call('repositoryStatus', quick, `pgbackrest info ${spec.stanza}`, spec),
    (async () => {
      const topology = topologyRead ? await call('observeTopology', quick, `the roles of ${spec.nodes.length} nodes`, spec) : undefined;
      const live = topology ? withObservedRoles(spec, topology) : spec;
      const standbys = live.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
      const [primary, standbyFacts] = await Promise.all([
        call('primaryStatus', quick, 'archiver and replication on the primary', live),
        Promise.all(standbys.map((node) => call('standbyStatus', quick, `recovery state of ${node}`, live, node))),
      ]);
      return { topology, primary, standbys: standbyFacts };
    })(),
    spec.drills ? call('drillStatus', quick, `last restore drill of ${spec.stanza}`, spec) : undefined,
  ]);
  return { stanza: spec.stanza, ...(roles.topology && { topology: roles.topology }), repository, primary: roles.primary, standbys: roles.standbys, ...(drill && { drill }) };
}
