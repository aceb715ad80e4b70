import type { Spec } from '../../src/spec/schema';
import { SYSTEMD_FLAVOURS } from './flavours';
import type { SystemdFlavour } from './flavours';
import { isPostgresHost, PRIMARY_HOST, REPOSITORY_HOST, SCRATCH_HOST } from './types';
import type { Lab } from './types';

function systemdPostgres(f: SystemdFlavour): Spec['postgres'] {
  return { version: 15, osUser: f.osUser, port: f.port, dataDir: f.dataDir, binDir: f.binDir, control: { type: 'systemd', unit: f.unit } };
}

const POSTGRES_BY_LAYOUT: Record<Lab['layout'], Spec['postgres']> = {
  debian: {
    version: 15,
    osUser: 'postgres',
    port: 5432,
    dataDir: '/var/lib/postgresql/15/main',
    binDir: '/usr/lib/postgresql/15/bin',
    configDir: '/etc/postgresql/15/main',
    control: { type: 'pg_ctlcluster', cluster: 'main' },
  },
  // EDB keeps its config in the data directory; the binaries are Debian's PostgreSQL 15.
  edb: {
    version: 15,
    osUser: 'enterprisedb',
    port: 5444,
    dataDir: '/var/lib/edb/as15/data',
    binDir: '/usr/lib/postgresql/15/bin',
    control: { type: 'pg_ctl' },
  },
  'systemd-epas': systemdPostgres(SYSTEMD_FLAVOURS['systemd-epas']),
  'systemd-pgdg': systemdPostgres(SYSTEMD_FLAVOURS['systemd-pgdg']),
};

/** The postgres: section of a spec for a cluster laid out as `layout` (a lab host carries the users and directories of its own layout and Debian's). */
export function labPostgres(layout: Lab['layout']): Spec['postgres'] {
  return structuredClone(POSTGRES_BY_LAYOUT[layout]);
}

/** The seed's stanza for these hosts (the scratch and S3 hosts are no nodes). Addresses, not names: the operator's namespace cannot resolve them. */
export function labSpec(lab: Lab): Spec {
  const ipOf = (name: string) => {
    const h = lab.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`lab has no host ${name}`);
    return h.ip;
  };
  return {
    stanza: 'demo',
    ssh: { user: 'root', privateKeyFile: lab.privateKeyFile, knownHostsFile: lab.knownHostsFile },
    repository: { host: ipOf(REPOSITORY_HOST), user: 'pgbackrest', path: '/backup_space', retentionFull: 2 },
    postgres: labPostgres(lab.layout),
    nodes: lab.hosts
      .filter((h) => isPostgresHost(h.name) && h.name !== SCRATCH_HOST)
      .map((h) => ({ name: h.name, host: h.ip, role: h.name === PRIMARY_HOST ? 'primary' : 'standby' })),
    replication: { user: 'replic_user', password: { env: 'STANZACTL_SECRET_REPLICATION_PASSWORD' } },
    backups: { fromStandby: false },
  };
}
