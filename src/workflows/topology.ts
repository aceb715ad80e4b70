import { ApplicationFailure } from '@temporalio/workflow';
import { withObservedRoles } from '../facts/topology';
import type { Spec } from '../spec/schema';
import { quick } from './profiles';
import { call } from './steps';

/**
 * The spec with every node's role as its host has it (one read of all nodes), for the steps that
 * follow: they act on the real primary and standbys, whatever the spec says. A cluster with two
 * primaries, or none, is refused before anything is done on it. `apart`: the node a rebuild
 * replaces (readTopology).
 */
export async function observedSpec(spec: Spec, what: string, apart?: string): Promise<Spec> {
  const topology = await call('observeTopology', quick, `the roles of ${spec.nodes.length} nodes`, spec, ...(apart === undefined ? [] : [apart]));
  if (topology.primary === null) {
    throw ApplicationFailure.create({ type: 'NoPrimary', nonRetryable: true, message: `${what} of stanza ${spec.stanza} refused, nothing was done: ${topology.problems.join('; ')}` });
  }
  return withObservedRoles(spec, topology);
}
