import { primaryNode, withPrimary } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { runsAsPrimary, type NodeRole } from './node-role';

/** One node as read from its host (activities/topology.ts): its role, or why it could not be read. */
export interface NodeSighting {
  readonly name: string;
  /** The address stanzactl reaches it at (spec `host`, else its name): how a standby's upstream is recognised. */
  readonly address: string;
  readonly role?: NodeRole;
  readonly error?: string;
}

export type SeenAs = 'primary' | 'standby' | 'stopped, last a primary' | 'stopped, last a standby' | 'no cluster' | 'another cluster' | 'unreachable';

export interface TopologyNode {
  readonly name: string;
  readonly seenAs: SeenAs;
  readonly timeline?: number;
  /** Whom its WAL receiver streams from: a node's name, or the address when it is none of the spec's. */
  readonly upstream?: string;
  readonly streaming: boolean;
  readonly error?: string;
}

/** The cluster as its hosts say it is now, beside what the spec says. */
export interface Topology {
  /**
   * The node that runs out of recovery. When none runs as one: the spec's primary if it was last
   * shut down as a primary and no node was promoted past it. null when no node, or more than one,
   * qualifies: nothing may be decided on such a cluster.
   */
  readonly primary: string | null;
  readonly specPrimary: string;
  readonly nodes: TopologyNode[];
  /** What makes the topology unusable (two primaries, none, another cluster): each a sentence. */
  readonly problems: string[];
}

function seenAs(r: NodeRole | undefined, systemId: string | undefined): SeenAs {
  if (!r) return 'unreachable';
  if (!r.exists) return 'no cluster';
  if (systemId && r.systemId !== systemId) return 'another cluster';
  if (r.running) return r.inRecovery ? 'standby' : 'primary';
  return /recovery/.test(r.controlState ?? '') ? 'stopped, last a standby' : 'stopped, last a primary';
}

/**
 * Judges the sightings of every node of `spec`. A cluster's identity is its primary's system
 * identifier (the spec's primary's when no node runs as one): a node holding another is no member.
 * `apart` is a node about to be replaced (a rebuild's target): it is the primary only when no other
 * node runs as one, so a standby promoted by mistake beside the real primary is no split brain to
 * it, and a rebuild of the only primary is still seen as one.
 */
export function readTopology(spec: Spec, sightings: NodeSighting[], apart?: string): Topology {
  const specPrimary = primaryNode(spec).name;
  const others = sightings.filter((s) => s.name !== apart && runsAsPrimary(s.role));
  const running = others.length > 0 ? others : sightings.filter((s) => runsAsPrimary(s.role));
  const anchor = running.length === 1 ? running[0] : sightings.find((s) => s.name === specPrimary);
  const systemId = anchor?.role?.systemId;
  const byAddress = new Map(sightings.map((s) => [s.address, s.name]));
  const nodes = sightings.map((s): TopologyNode => ({
    name: s.name,
    seenAs: seenAs(s.role, systemId),
    ...(s.role?.timeline !== undefined && { timeline: s.role.timeline }),
    ...(s.role?.upstream && { upstream: byAddress.get(s.role.upstream) ?? s.role.upstream }),
    streaming: s.role?.receiver === 'streaming',
    ...(s.error !== undefined && { error: s.error }),
  }));
  const problems: string[] = [];
  const primaries = nodes.filter((n) => n.seenAs === 'primary' && running.some((s) => s.name === n.name));
  const specPrimaryNode = nodes.find((n) => n.name === specPrimary)!;
  let primary: string | null = null;
  if (primaries.length > 1) {
    problems.push(`${primaries.map((n) => `${n.name} (timeline ${n.timeline ?? '?'})`).join(' and ')} all run as primaries: a split brain; nothing is decided on this cluster until one is stopped`);
  } else if (primaries.length === 1) {
    primary = primaries[0].name;
  } else if (specPrimaryNode.seenAs === 'stopped, last a primary' && !nodes.some((n) => n.timeline !== undefined && specPrimaryNode.timeline !== undefined && n.timeline > specPrimaryNode.timeline)) {
    primary = specPrimary;
  } else {
    const why = nodes.find((n) => n.timeline !== undefined && specPrimaryNode.timeline !== undefined && n.timeline > specPrimaryNode.timeline);
    problems.push(why
      ? `no node runs as the primary, and ${why.name} is on a later timeline (${why.timeline}) than ${specPrimary} (${specPrimaryNode.timeline}): a promotion happened that the stopped nodes do not show`
      : `no node runs as the primary (${specPrimary}, the spec's, is ${specPrimaryNode.seenAs})`);
  }
  for (const n of nodes) if (n.seenAs === 'another cluster') problems.push(`${n.name} holds another cluster (system identifier ${sightings.find((s) => s.name === n.name)!.role!.systemId}, the cluster's is ${systemId})`);
  return { primary, specPrimary, nodes, problems };
}

/**
 * The spec with its nodes' roles as the hosts have them: every step that reads `role` then acts on
 * the real primary. The spec's own when no single primary was seen (the caller refuses on `problems`).
 */
export function withObservedRoles(spec: Spec, topology: Topology): Spec {
  return topology.primary === null ? spec : withPrimary(spec, topology.primary);
}
