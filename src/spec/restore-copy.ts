import { z } from 'zod';
import { absPath, hostName, port, type Spec } from './schema';

/**
 * Where a copy of a stanza's cluster is restored: a host that is none of the spec's nodes (nor its
 * repository host), a data directory there, the port the copy serves. Reached with the spec's own
 * `ssh` settings (user, key, known_hosts: the host's key must be pinned there like the nodes').
 */
export const copyPlaceSchema = z.object({ host: hostName, dataDir: absPath, port }).strict();
export type CopyPlace = z.infer<typeof copyPlaceSchema>;

/** The Debian cluster name of a copy: its data directory's last component (pg_createcluster's habit). */
export function copyClusterName(dataDir: string): string {
  return dataDir.replace(/\/+$/, '').split('/').pop() ?? '';
}

const CLUSTER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/;

/** Why `place` cannot take a copy of `spec`'s cluster; empty when it can. Pure, so the CLI, the workflow and the activities judge alike. */
export function copyPlaceProblems(spec: Spec, place: CopyPlace): string[] {
  const problems: string[] = [];
  const node = spec.nodes.find((n) => n.name === place.host || n.host === place.host);
  if (node) problems.push(`${place.host} is node ${node.name} of stanza ${spec.stanza}: a copy goes to another host, never over a cluster node (use "recover" to restore the cluster in place)`);
  if (place.host === spec.repository.host) problems.push(`${place.host} is the repository host of stanza ${spec.stanza}: a copy goes to a host of its own`);
  if (spec.postgres.configDir && !CLUSTER_NAME.test(copyClusterName(place.dataDir))) {
    problems.push(`data directory ${place.dataDir}: its last component names the copy's Debian cluster, so it must be letters, digits, "_" and "-"`);
  }
  return problems;
}

/** Where drills (and a recover's rehearsal) put their copy: the spec's `drills` section. */
export function drillsPlace({ host, dataDir, port }: NonNullable<Spec['drills']>): CopyPlace {
  return { host, dataDir, port };
}

/** Defaults: `restore` beside the spec's data directory, the spec's port. */
export function defaultCopyPlace(spec: Spec, host: string, o: { dataDir?: string; port?: number } = {}): CopyPlace {
  const parent = spec.postgres.dataDir.replace(/\/+$/, '').split('/').slice(0, -1).join('/');
  return { host, dataDir: o.dataDir ?? `${parent}/restore`, port: o.port ?? spec.postgres.port };
}

/** A pgBackRest backup label, as `pgbackrest info` lists it: full, or a diff/incr after its full. */
export const backupLabelSchema = z.string().regex(/^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$/, 'a pgBackRest backup label such as 20261126-031500F or 20261126-031500F_20261126-041500I');
