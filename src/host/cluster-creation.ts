import { createHash } from 'node:crypto';
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

const PENDING_CHECK = '[ -e "$1" ] && echo yes || echo no';

export async function creationPending(ops: HostOps, host: HostAddress, marker: string): Promise<boolean> {
  return (await ops.must(host, script(PENDING_CHECK, marker))).trim() === 'yes';
}

// $1 marker, $2 data dir, $3 the config dir pg_createcluster writes ('' for none), $4 "strict" to
// refuse a data directory that holds files (a creation that must find it empty), $5 the account
// that owns both; the body's own arguments follow. Exit 3: a refusal for a human. The last line
// printed says what happened. What is removed is removed as that account: the directories are its,
// and a link it swapped in between two commands then leads nowhere root could be made to write.
const BEGIN = `set -eu
marker=$1 data=$2 confdir=$3 strict=$4 owner=$5; shift 5
outcome=created
if [ -e "$marker" ]; then
  # Only a postmaster writes postmaster.opts (initdb's killed backends may leave postmaster.pid).
  if [ -e "$data/postmaster.opts" ]; then
    echo "$data was left by an interrupted cluster creation (marker $marker), but a server has run on it since: stanzactl will not remove it. Check it, then remove $marker" >&2
    exit 3
  fi
  if [ -d "$data" ]; then runuser -u "$owner" -- find "$data" -mindepth 1 -delete; fi
  if [ -n "$confdir" ]; then
    for f in postgresql.conf pg_hba.conf pg_ident.conf start.conf pg_ctl.conf environment; do runuser -u "$owner" -- rm -f -- "$confdir/$f"; done
  fi
  outcome=recreated
elif [ "$strict" = strict ] && [ -n "$(ls -A "$data" 2>/dev/null)" ]; then
  echo "$data holds files but no PostgreSQL cluster (no global/pg_control): stanzactl will not create a cluster over them. Move them away and run again" >&2
  exit 3
fi
install -d -m 700 ${PENDING}
printf '%s\\n' "$data" > "$marker.tmp"
mv -f "$marker.tmp" "$marker"
`;

const END = `
rm -f -- "$marker"
echo "$outcome"`;

export interface Creation {
  readonly kind: CreationKind;
  readonly dataDir: string;
  /** The config directory pg_createcluster writes, for a Debian cluster. */
  readonly configDir?: string;
  /** The account that owns the data (and config) directory: what the creation removes, it removes as that account. */
  readonly owner: string;
  /** The data directory must be empty (or absent) unless an interrupted creation left it. */
  readonly strict: boolean;
  /** A bash body of ours, with `set -eu` in force and its inputs in "$@". */
  readonly body: string;
  readonly args: readonly Arg[];
}

/** Runs a marked creation; says whether it made the cluster afresh or redid an interrupted one. */
export async function runCreation(ops: HostOps, host: HostAddress, c: Creation, timeoutMs: number): Promise<'created' | 'recreated'> {
  const command = script(`${BEGIN}${c.body}${END}`, creationMarker(c.kind, c.dataDir), c.dataDir, c.configDir ?? '', c.strict ? 'strict' : 'lenient', c.owner, ...c.args);
  const r = await ops.run(host, command, { timeoutMs });
  if (r.code === 3) throw refuse(`${host.name}: ${r.stderr.trim()}`, 'CreationRefused');
  const last = check(host, command, r).stdout.trim().split('\n').pop();
  return last === 'recreated' ? 'recreated' : 'created';
}

/** Where pg_createcluster writes a cluster's config (its default PG_CLUSTER_CONF_ROOT). */
export function debianConfigDir(version: number, cluster: string): string {
  return `/etc/postgresql/${version}/${cluster}`;
}
