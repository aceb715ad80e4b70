import type { Spec } from '../spec/schema';
import { REPOSITORY_HOST, SCRATCH_HOST } from './types';
import type { Lab } from './types';

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
};

/** The seed's stanza for these hosts (the scratch host is no node). Addresses, not names: the operator's namespace cannot resolve them. */
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
    postgres: structuredClone(POSTGRES_BY_LAYOUT[lab.layout]),
    nodes: lab.hosts
      .filter((h) => h.name !== REPOSITORY_HOST && h.name !== SCRATCH_HOST)
      .map((h, i) => ({ name: h.name, host: h.ip, role: i === 0 ? 'primary' : 'standby' })),
    replication: { user: 'replic_user', password: { env: 'STANZACTL_SECRET_REPLICATION_PASSWORD' } },
    backups: { fromStandby: false },
  };
}
