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
  /** Present when the lab was brought up with `s3: true`. */
  s3?: LabS3;
}

/** The lab's S3-compatible server (versitygw) over TLS, as an S3 client on any lab host reaches it. */
export interface LabS3 {
  /** The lab host it runs on, alone: stopping it touches no other host. */
  host: string;
  /** A DNS name every lab host resolves to `host`, in the certificate's SAN (pgBackRest refuses an IP address there). */
  endpoint: string;
  port: number;
  bucket: string;
  region: string;
  /** Made at random for each lab. */
  accessKey: string;
  secretKey: string;
  /** The private CA that signed the server's certificate, at this path on every lab host and in no trust store. */
  caFile: string;
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

/** The S3 host, in labs brought up with `s3: true` only. */
export const S3_HOST_PLAN = { name: 's3-srv', id: 's3', octet: 15 } as const;

export const REPOSITORY_HOST = 'backup-srv';
export const S3_HOST = S3_HOST_PLAN.name;
/** What every lab host resolves to the S3 host: a name of its own, as a real endpoint has. */
export const S3_ENDPOINT = 's3.lab.internal';
export const S3_CA_FILE = '/etc/stanzactl-lab/s3-ca.pem';
/** The spec's primary; the other nodes are its standbys. */
export const PRIMARY_HOST = 'pg1-srv';
export const SCRATCH_HOST = 'drill-srv';

/** The nodes and the scratch host: the hosts whose layout decides how PostgreSQL is installed and run. */
export function isPostgresHost(host: string): boolean {
  return host !== REPOSITORY_HOST && host !== S3_HOST;
}

export function isSystemdLayout(layout: LabLayout): layout is SystemdLayout {
  return layout.startsWith('systemd-');
}
