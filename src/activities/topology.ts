import { readTopology, type Topology } from '../facts/topology';
import type { Spec } from '../spec/schema';
import { nodeAddress } from './hosts';
import type { HostOps } from '../host/host-ops';
import { readRoles } from './node-role';

/**
 * Every node's real role, read at once; a node that cannot be read is a sighting with its reason,
 * not a failure: a dead primary is exactly what this must be able to report. Changes nothing.
 * `apart`: the node a rebuild replaces (readTopology).
 */
export async function observeTopology(ops: HostOps, spec: Spec, apart?: string): Promise<Topology> {
  const roles = await readRoles(ops, spec);
  const sightings = spec.nodes.map((n) => {
    const { role, error } = roles.get(n.name)!;
    const address = nodeAddress(n).host;
    return role ? { name: n.name, address, role } : { name: n.name, address, error: error instanceof Error ? error.message : String(error) };
  });
  return readTopology(spec, sightings, apart);
}
