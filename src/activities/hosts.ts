import type { Spec, SpecNode } from '../spec/schema';
import type { HostAddress } from '../remote/types';
import { refuse } from '../host/failures';

/** The hosts of a spec as the operator reaches them. The repository host is named by its address. */
export function repoHost(spec: Spec): HostAddress {
  return { name: spec.repository.host, host: spec.repository.host };
}

export function nodeAddress(node: SpecNode): HostAddress {
  return { name: node.name, host: node.host ?? node.name };
}

export function findNode(spec: Spec, name: string): SpecNode {
  const node = spec.nodes.find((n) => n.name === name);
  if (!node) throw refuse(`node ${name} is not in the spec for stanza ${spec.stanza}`);
  return node;
}
