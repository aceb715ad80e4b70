import { readTopology, type Topology } from '../facts/topology';
import type { Spec } from '../spec/schema';
import { nodeAddress } from './hosts';
import type { HostOps } from '../host/host-ops';
import { readNodeRole } from './node-role';

/**
 * Every node's real role, read at once; a node that cannot be read is a sighting with its reason,
 * not a failure: a dead primary is exactly what this must be able to report. Changes nothing.
 * `apart`: the node a rebuild replaces (readTopology).
 */
export async function observeTopology(ops: HostOps, spec: Spec, apart?: string): Promise<Topology> {
  const sightings = await Promise.all(spec.nodes.map(async (n) => {
    const host = nodeAddress(n);
    try {
      return { name: n.name, address: host.host, role: await readNodeRole(ops, host, spec.postgres) };
    } catch (e) {
      return { name: n.name, address: host.host, error: e instanceof Error ? e.message : String(e) };
    }
  }));
  return readTopology(spec, sightings, apart);
}
