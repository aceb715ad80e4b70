/**
 * How the PostgreSQL hosts are laid out and run: Debian's packages, an EDB-like install driven
 * with pg_ctl, or hosts whose PID 1 is systemd with PostgreSQL as a unit the way EDB's EPAS
 * packages (systemd-epas) or PGDG's RHEL packages (systemd-pgdg) ship it.
 */
export const LAB_LAYOUTS = ['debian', 'edb', 'systemd-epas', 'systemd-pgdg'] as const;
export type LabLayout = (typeof LAB_LAYOUTS)[number];
export type SystemdLayout = Extract<LabLayout, `systemd-${string}`>;

export interface LabHost {
  name: string;
  ip: string;
  netns: string;
  initPid: number;
}

export interface Lab {
  stateDir: string;
  prefix: string;
  subnet: string;
  layout: LabLayout;
  hosts: LabHost[];
  privateKeyFile: string;
  knownHostsFile: string;
}

/**
 * The four hosts of the seed procedure and a scratch host for restores and drills (PostgreSQL and
 * pgBackRest installed like the nodes, no cluster, never a spec node). `id` keeps link names
 * within the kernel's 15 characters.
 */
export const HOST_PLAN = [
  { name: 'backup-srv', id: 'bak', octet: 10 },
  { name: 'pg1-srv', id: 'pg1', octet: 11 },
  { name: 'pg2-srv', id: 'pg2', octet: 12 },
  { name: 'pg3-srv', id: 'pg3', octet: 13 },
  { name: 'drill-srv', id: 'drl', octet: 14 },
] as const;

export const REPOSITORY_HOST = 'backup-srv';
/** The spec's primary; the other nodes are its standbys. */
export const PRIMARY_HOST = 'pg1-srv';
export const SCRATCH_HOST = 'drill-srv';

export function isSystemdLayout(layout: LabLayout): layout is SystemdLayout {
  return layout.startsWith('systemd-');
}
