import { isPostgresHost, isSystemdLayout } from './types';
import type { LabLayout, SystemdLayout } from './types';

/** A PostgreSQL package as the systemd layouts emulate it, with Debian's PostgreSQL 15 binaries. */
export interface SystemdFlavour {
  unit: string;
  description: string;
  osUser: string;
  /** The OS user's home, as the package's user has it. */
  home: string;
  /** The empty directories the package ships, parents first. */
  dirs: string[];
  dataDir: string;
  binDir: string;
  port: number;
  /** The program under binDir the unit starts. */
  postmaster: string;
  /** The unit's ExecStartPre under binDir. */
  checkDbDir: string;
}

export const SYSTEMD_FLAVOURS: Record<SystemdLayout, SystemdFlavour> = {
  // The unit's name is the reference procedure's (what its operators type); the paths are the edb
  // layout's, named for the version the binaries are (15).
  'systemd-epas': {
    unit: 'edb-as-13',
    description: 'EDB Postgres Advanced Server 13',
    osUser: 'enterprisedb',
    home: '/var/lib/edb',
    dirs: ['/var/lib/edb', '/var/lib/edb/as15'],
    dataDir: '/var/lib/edb/as15/data',
    binDir: '/usr/edb/as15/bin',
    port: 5444,
    postmaster: 'edb-postmaster',
    checkDbDir: 'edb-as-13-check-db-dir',
  },
  // PGDG's RPM ships the data directory itself, empty.
  'systemd-pgdg': {
    unit: 'postgresql-15',
    description: 'PostgreSQL 15 database server',
    osUser: 'postgres',
    home: '/var/lib/pgsql',
    dirs: ['/var/lib/pgsql', '/var/lib/pgsql/15', '/var/lib/pgsql/15/data'],
    dataDir: '/var/lib/pgsql/15/data',
    binDir: '/usr/pgsql-15/bin',
    port: 5432,
    postmaster: 'postmaster',
    checkDbDir: 'postgresql-15-check-db-dir',
  },
};

/**
 * The package a host of the layout emulates when its PID 1 is systemd, else undefined. The
 * repository and S3 hosts keep the small init in every layout: they run no PostgreSQL, so systemd
 * there would prove nothing and cost a boot (seconds of the machine's two cores) per lab.
 */
export function systemdFlavourOf(layout: LabLayout, host: string): SystemdFlavour | undefined {
  return isSystemdLayout(layout) && isPostgresHost(host) ? SYSTEMD_FLAVOURS[layout] : undefined;
}
