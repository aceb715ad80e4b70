import { program } from '../paths';
import { script } from '../shell/command';
import { SERVER_LOG_ROOT, serverLogDir } from '../render/postgres-control';
import { DEFAULT_SPOOL_PATH, spoolPath } from '../render/pgbackrest-tuning';
import type { HostAddress } from '../remote/types';
import type { Spec, SpecNode } from '../spec/schema';
import { refuse } from '../host/failures';
import { nodeAddress, repoHost } from './hosts';
import type { HostOps } from '../host/host-ops';
import { merge, type StepResult } from './types';

// pgBackRest's own directories, as the Debian package ships them; the seed hands them to the user
// that runs pgBackRest on that host (a root-owned lock or log dir breaks later runs).
const PGBACKREST_DIRS = ['/var/lib/pgbackrest', '/var/log/pgbackrest', DEFAULT_SPOOL_PATH];

const CREATE_USER = program('activities', 'create-user');

async function ensureOwnedDirs(ops: HostOps, host: HostAddress, dirs: string[], owner: string, group: string, mode: string): Promise<StepResult[]> {
  return Promise.all(dirs.map(async (d) => ({ changed: await ops.ensureDir(host, d, { owner, group, mode }), detail: `${host.name}:${d} owned by ${owner}` })));
}

/** The seed's "dedicated user on the repository host": user, repository path, pgBackRest dirs. */
export async function ensureRepositoryHost(ops: HostOps, spec: Spec): Promise<StepResult> {
  const host = repoHost(spec);
  const { user, path } = spec.repository;
  let account = await ops.user(host, user);
  const results: StepResult[] = [];
  if (!account) {
    await ops.must(host, script(CREATE_USER, user));
    account = await ops.user(host, user);
    if (!account) throw new Error(`${host.name}: user ${user} still missing after useradd`);
    results.push({ changed: true, detail: `created user ${user} on ${host.name}` });
  }
  const [repository, dirs] = await Promise.all([
    ops.ensureDir(host, path, { owner: user, group: account.group, mode: '750' }),
    ensureOwnedDirs(ops, host, PGBACKREST_DIRS, user, account.group, '750'),
  ]);
  results.push({ changed: repository, detail: `repository ${host.name}:${path} (${user}, 0750)` }, ...dirs);
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
  const dirs = [...PGBACKREST_DIRS.filter((d) => d !== DEFAULT_SPOOL_PATH), spool];
  const results = await ensureOwnedDirs(ops, host, dirs, pg.osUser, account.group, '750');
  if (pg.control.type === 'pg_ctl') {
    // pg_ctl's server log: root's directory first, then the user's inside it, so root never
    // creates or changes anything under a path that account controls.
    results.push({ changed: await ops.ensureDir(host, SERVER_LOG_ROOT, { owner: 'root', group: 'root', mode: '755' }), detail: `${host.name}:${SERVER_LOG_ROOT}` });
    const dir = serverLogDir(pg);
    results.push({ changed: await ops.ensureDir(host, dir, { owner: pg.osUser, group: account.group, mode: '700' }), detail: `${host.name}:${dir} for pg_ctl's server log` });
  }
  return merge(results, `${host.name}: pgBackRest directories owned by ${pg.osUser}`);
}
