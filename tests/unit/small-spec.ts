import { specSchema, type Spec } from '../../src/spec/schema';

/** The smallest valid spec of stanza alpha (one primary, pg_ctl layout) with `extra` top-level fields, for policy tests. */
export function smallSpec(extra: Record<string, unknown> = {}): Spec {
  return specSchema.parse({
    stanza: 'alpha',
    ssh: { user: 'root', privateKeyFile: '/k', knownHostsFile: '/kh' },
    repository: { host: 'backup-srv', user: 'pgbackrest', path: '/backup_space', retentionFull: 2 },
    postgres: { version: 15, osUser: 'postgres', port: 5432, dataDir: '/d', binDir: '/b', control: { type: 'pg_ctl' } },
    nodes: [{ name: 'pg1', role: 'primary' }],
    replication: { user: 'replic_user', password: { env: 'PW' } },
    ...extra,
  });
}
