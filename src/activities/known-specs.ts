import type { Spec } from '../spec/schema';

/**
 * The specs this worker process has run an activity for: a copy must not land on a cluster machine
 * of any stanza the worker serves, not only of the stanza it restores. Kept in memory (a restarted
 * worker knows the specs of the activities it runs from then on); bounded by what tells clusters apart.
 */
const known = new Map<string, Spec>();

export function rememberSpec(spec: Spec): void {
  const key = JSON.stringify([spec.stanza, spec.nodes, spec.repository.host, spec.ssh.knownHostsFile, spec.ssh.port ?? 22]);
  if (!known.has(key)) known.set(key, spec);
}

/** `spec` first, then every other spec the worker knows. */
export function knownSpecs(spec: Spec): Spec[] {
  rememberSpec(spec);
  return [spec, ...[...known.values()].filter((s) => s !== spec)];
}
