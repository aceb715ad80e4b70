import { createHash } from 'node:crypto';
import { program } from '../paths';
import { script, type Arg } from '../shell/command';
import { check } from '../remote/ssh-pool';
import type { HostAddress } from '../remote/types';
import { refuse } from './failures';
import type { HostOps } from './host-ops';

/**
 * Creating a cluster (initdb, pg_createcluster, the port line after it) takes seconds and can be
 * interrupted anywhere: a killed command, a dropped connection, a host crash. What it leaves looks
 * like a cluster (pg_control may exist, config may be half written) but is not one the next attempt
 * may adopt, nor one it may refuse as foreign. So a creation is marked: a file in a root-owned
 * directory of stanzactl's is written before the first change and removed after the last. A marker
 * found by a later attempt says the data directory (and the config files pg_createcluster writes)
 * hold only what the interrupted attempt made, never started: they are removed and made again.
 */
const PENDING = '/var/lib/stanzactl/pending';

export type CreationKind = 'primary-cluster' | 'standby-config' | 'copy-config';

export function creationMarker(kind: CreationKind, dataDir: string): string {
  return `${PENDING}/${kind}-${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;
}

const EXISTS = program('host', 'exists');

export async function creationPending(ops: HostOps, host: HostAddress, marker: string): Promise<boolean> {
  return (await ops.must(host, script(EXISTS, marker))).trim() === 'yes';
}

// The marker's life around the body, refusals (exit 3) and the outcome line (scripts/creation.sh).
const CREATION = program('host', 'creation');

export interface Creation {
  readonly kind: CreationKind;
  readonly dataDir: string;
  /** The config directory pg_createcluster writes, for a Debian cluster. */
  readonly configDir?: string;
  /** The account that owns the data (and config) directory: what the creation removes, it removes as that account. */
  readonly owner: string;
  /** The data directory must be empty (or absent) unless an interrupted creation left it. */
  readonly strict: boolean;
  /** A bash program of ours, run with `-eu`, its inputs in "$@" (a .sh file's text). */
  readonly body: string;
  readonly args: readonly Arg[];
}

/** Runs a marked creation; says whether it made the cluster afresh or redid an interrupted one. */
export async function runCreation(ops: HostOps, host: HostAddress, c: Creation, timeoutMs: number): Promise<'created' | 'recreated'> {
  const command = script(CREATION, creationMarker(c.kind, c.dataDir), c.dataDir, c.configDir ?? '', c.strict ? 'strict' : 'lenient', c.owner, c.body, ...c.args);
  const r = await ops.run(host, command, { timeoutMs });
  if (r.code === 3) throw refuse(`${host.name}: ${r.stderr.trim()}`, 'CreationRefused');
  const last = check(host, command, r).stdout.trim().split('\n').pop();
  return last === 'recreated' ? 'recreated' : 'created';
}

/** Where pg_createcluster writes a cluster's config (its default PG_CLUSTER_CONF_ROOT). */
export function debianConfigDir(version: number, cluster: string): string {
  return `/etc/postgresql/${version}/${cluster}`;
}
