import { copyClusterName, type CopyPlace } from '../spec/restore-copy';
import type { Spec } from '../spec/schema';

/**
 * The spec's PostgreSQL settings for a restored copy: same version, OS user and binaries, the copy's
 * data directory and port. A Debian layout gets a cluster of its own (config in
 * /etc/postgresql/VERSION/NAME, started by pg_ctlcluster); any other layout keeps its config in the
 * data directory, where the restore brings the primary's, and is started with pg_ctl.
 */
export function copyPostgres(pg: Spec['postgres'], place: CopyPlace): Spec['postgres'] {
  const base = { version: pg.version, osUser: pg.osUser, binDir: pg.binDir, dataDir: place.dataDir, port: place.port };
  if (pg.configDir === undefined) return { ...base, control: { type: 'pg_ctl' } };
  const cluster = copyClusterName(place.dataDir);
  return { ...base, configDir: `/etc/postgresql/${pg.version}/${cluster}`, control: { type: 'pg_ctlcluster', cluster } };
}
