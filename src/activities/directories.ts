import { program } from '../paths';
import { script } from '../shell/command';
import { SERVER_LOG_ROOT, serverLogDir } from '../render/postgres-control';
import { DEFAULT_SPOOL_PATH, spoolPath } from '../render/pgbackrest-tuning';
import type { HostAddress } from '../remote/types';
import type { Spec, SpecNode } from '../spec/schema';
import { refuse } from '../host/failures';
import { nodeAddress, repoHost } from './hosts';
import type { FileOwner, HostOps } from '../host/host-ops';
import { merge, type StepResult } from './types';

// pgBackRest's own directories, as the Debian package ships them; the seed hands them to the user
// that runs pgBackRest on that host (a root-owned lock or log dir breaks later runs).
const PGBACKREST_DIRS = ['/var/lib/pgbackrest', '/var/log/pgbackrest', DEFAULT_SPOOL_PATH];

const CREATE_USER = program('activities', 'create-user');

interface OwnedDir {
  readonly path: string;
  readonly owner: FileOwner;
  readonly detail: string;
}

/** In this order (a parent before its children), one round trip. */
async function ensureOwnedDirs(ops: HostOps, host: HostAddress, dirs: readonly OwnedDir[]): Promise<StepResult[]> {
  const changed = await ops.ensureDirs(host, dirs);
  return dirs.map((d, i) => ({ changed: changed[i], detail: d.detail }));
}

const owned = (host: HostAddress, path: string, owner: FileOwner, detail = `${host.name}:${path} owned by ${owner.owner}`): OwnedDir => ({ path, owner, detail });

// Where create-user.sh keeps its lock: stanzactl's own directory on every host.
const STATE_DIR = '/var/lib/stanzactl';

/** The seed's "dedicated user on the repository host": user, repository path, pgBackRest dirs. */
export async function ensureRepositoryHost(ops: HostOps, spec: Spec): Promise<StepResult> {
  const host = repoHost(spec);
  const { user, path } = spec.repository;
  // Always through the script: it waits for another provision's useradd to finish (home included).
  // One round trip: the lookup runs on the host after the script.
  const [out, account] = await ops.together(host, (b) => Promise.all([b.must(host, script(CREATE_USER, user, STATE_DIR)), b.user(host, user)]));
  const made = out.trim() === 'created';
  if (!account) throw new Error(`${host.name}: user ${user} still missing after useradd`);
  const results: StepResult[] = made ? [{ changed: true, detail: `created user ${user} on ${host.name}` }] : [];
  const mine = { owner: user, group: account.group, mode: '750' };
  results.push(...(await ensureOwnedDirs(ops, host, [
    owned(host, path, mine, `repository ${host.name}:${path} (${user}, 0750)`),
    ...PGBACKREST_DIRS.map((d) => owned(host, d, mine)),
  ])));
  return merge(results, `repository host ${host.name} ready: user ${user}, ${path}`);
}

/** The seed's "change directories ownership" on a PostgreSQL node, with the spec's spool path. */
export async function ensureNodeDirectories(ops: HostOps, spec: Spec, node: SpecNode): Promise<StepResult> {
  return ensurePostgresHostDirectories(ops, nodeAddress(node), spec.postgres, spoolPath(spec));
}

/**
 * The same on any host that runs pgBackRest as the cluster's OS user: a node, or a host a copy (`pg`)
 * is restored to. The spool path must exist before archive-async is on: archive_command fails without it.
 */
export async function ensurePostgresHostDirectories(ops: HostOps, host: HostAddress, pg: Spec['postgres'], spool = DEFAULT_SPOOL_PATH): Promise<StepResult> {
  const account = await ops.user(host, pg.osUser);
  if (!account) throw refuse(`${host.name}: OS user ${pg.osUser} (postgres.osUser) does not exist; install PostgreSQL there first`, 'PreflightFailed');
  const mine = { owner: pg.osUser, group: account.group, mode: '750' };
  const dirs = [...PGBACKREST_DIRS.filter((d) => d !== DEFAULT_SPOOL_PATH), spool].map((d) => owned(host, d, mine));
  if (pg.control.type === 'pg_ctl') {
    // pg_ctl's server log: root's directory first, then the user's inside it, so root never
    // creates or changes anything under a path that account controls.
    const dir = serverLogDir(pg);
    dirs.push(
      owned(host, SERVER_LOG_ROOT, { owner: 'root', group: 'root', mode: '755' }, `${host.name}:${SERVER_LOG_ROOT}`),
      owned(host, dir, { owner: pg.osUser, group: account.group, mode: '700' }, `${host.name}:${dir} for pg_ctl's server log`),
    );
  }
  const results = await ensureOwnedDirs(ops, host, dirs);
  return merge(results, `${host.name}: pgBackRest directories owned by ${pg.osUser}`);
}
