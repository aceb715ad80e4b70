import { nodeConf, repoHostConf, ConfigConflictError } from '../render/pgbackrest-conf';
import type { HostAddress } from '../remote/types';
import type { Spec } from '../spec/schema';
import { Secret } from '../remote/command';
import { refuse } from './failures';
import { withResolvedRepositoryOptions } from './secrets';
import { nodeAddress, repoHost } from './hosts';
import type { HostOps } from './host-ops';
import { merge, type StepResult } from './types';

export const PGBACKREST_CONF = '/etc/pgbackrest.conf';

async function ensureConf(ops: HostOps, host: HostAddress, group: string, render: (existing: string | undefined) => string): Promise<StepResult> {
  const existing = await ops.readFile(host, PGBACKREST_CONF);
  let content: string;
  try {
    content = render(existing);
  } catch (e) {
    if (e instanceof ConfigConflictError) throw refuse(e.message, 'ConfigConflict');
    throw e;
  }
  // Readable by the user that runs pgBackRest there, not by everyone: it may hold repository secrets
  // (masked, should the content ever reach an error message).
  const changed = await ops.ensureFile(host, PGBACKREST_CONF, new Secret(content), { owner: 'root', group, mode: '640' });
  return { changed, detail: `${host.name}:${PGBACKREST_CONF} ${changed ? 'written' : 'up to date'}` };
}

/**
 * pgbackrest.conf on the repository host and every node. `withStandbys` adds the standbys to the
 * repository's stanza section (backups from a standby): only once they stream, since pgBackRest
 * refuses backup-standby=y without a standby to copy from.
 */
export async function ensurePgbackrestConf(ops: HostOps, spec: Spec, withStandbys: boolean): Promise<StepResult> {
  const resolved = await withResolvedRepositoryOptions(spec);
  const repoSpec: Spec = { ...resolved, backups: { ...spec.backups, fromStandby: withStandbys ? spec.backups?.fromStandby : false } };
  const repo = repoHost(spec);
  const groupOf = async (host: HostAddress, user: string) => (await ops.user(host, user))?.group ?? user;
  const results = await Promise.all([
    ensureConf(ops, repo, await groupOf(repo, spec.repository.user), (e) => repoHostConf(e, repoSpec)),
    ...spec.nodes.map(async (n) => ensureConf(ops, nodeAddress(n), await groupOf(nodeAddress(n), spec.postgres.osUser), (e) => nodeConf(e, spec, n))),
  ]);
  return merge(results, `pgbackrest.conf up to date on ${results.length} hosts`);
}
