import { SpecError } from './errors';
import type { Spec, SpecNode } from './schema';

// Pure, without the file loading beside it in load.ts: workflow code reads roles too.

/** The address to connect to: `host` when given, else the node name resolves. */
export function nodeHost(n: SpecNode): string {
  return n.host ?? n.name;
}

export function primaryNode(spec: Spec): SpecNode {
  const primary = spec.nodes.find((n) => n.role === 'primary');
  // The schema guarantees exactly one; a Spec built by hand may not.
  if (!primary) throw new SpecError([{ path: 'nodes', message: 'no node has role primary' }]);
  return primary;
}

/** Standbys in spec order. */
export function standbyNodes(spec: Spec): SpecNode[] {
  return spec.nodes.filter((n) => n.role === 'standby');
}

/**
 * The spec with `primary` as its primary and every other node a standby: the roles a workflow acts
 * on after a failover done by hand. The spec itself, the same object, when `primary` is its primary.
 */
export function withPrimary(spec: Spec, primary: string): Spec {
  if (primaryNode(spec).name === primary) return spec;
  return { ...spec, nodes: spec.nodes.map((n) => ({ ...n, role: n.name === primary ? 'primary' : 'standby' })) };
}

/** The spec without node `name`: for the steps that reach every node while that one cannot be reached. */
export function withoutNode(spec: Spec, name: string): Spec {
  return { ...spec, nodes: spec.nodes.filter((n) => n.name !== name) };
}
