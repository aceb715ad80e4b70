import {
  chooseConfigFile, CONFIG_INCLUDE_PATH, CONFIG_PATHS, ConfigPathError, fragmentConflicts, parseConfigFacts, parseFragments,
  type ConfigChoice,
} from '../facts/pgbackrest-config';
import { asUser, cmd, script, Secret } from '../shell/command';
import { ConfigConflictError, copyHostSettings, mergeConf, nodeSettings, repoHostSettings, type ConfSettings } from '../render/pgbackrest-conf';
import type { HostAddress } from '../remote/types';
import type { Spec } from '../spec/schema';
import { refuse } from '../host/failures';
import { resolveOffsiteKeys, withResolvedRepositoryOptions } from './secrets';
import { nodeAddress, repoHost } from './hosts';
import type { HostOps } from '../host/host-ops';
import { merge, type StepResult } from './types';
import { program } from '../paths';

// Where pgBackRest's config may be, and the fragments it appends (facts/pgbackrest-config.ts parses both).
const CONFIG_FACTS = program('activities', 'config-facts');
const READ_FRAGMENTS = program('activities', 'read-fragments');

/** The configuration file pgBackRest reads on `host`, refusing one root must not write. */
export async function detectConfigFile(ops: HostOps, host: HostAddress): Promise<ConfigChoice> {
  const facts = parseConfigFacts(await ops.must(host, script(CONFIG_FACTS, ...CONFIG_PATHS)));
  try {
    return chooseConfigFile(host.name, facts);
  } catch (e) {
    if (e instanceof ConfigPathError) throw refuse(e.message, 'ConfigPath');
    throw e;
  }
}

/** The cores pgBackRest may use on the host (`nproc`: its CPU affinity; a cgroup CPU quota is not seen). */
export async function cores(ops: HostOps, host: HostAddress): Promise<number> {
  const out = (await ops.must(host, cmd('nproc'))).trim();
  const n = Number(out);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${host.name}: nproc printed ${JSON.stringify(out)}, not a number of cores`);
  return n;
}

/** `runAs` runs pgBackRest on the host: it reads the conf.d fragments, as pgBackRest will. */
async function ensureConf(
  ops: HostOps, host: HostAddress, runAs: string, stanza: string,
  settingsFor: (existing: string | undefined, cores: number, fragments: string[]) => ConfSettings,
): Promise<StepResult> {
  // What the file's content and owner depend on in one round trip; only the file itself waits for its path.
  const [{ write }, n, read, group] = await ops.together(host, (b) => Promise.all([
    detectConfigFile(b, host),
    cores(b, host),
    b.run(host, asUser(runAs, script(READ_FRAGMENTS, CONFIG_INCLUDE_PATH))),
    groupOf(b, host, runAs),
  ]));
  const found = await ops.readOwnedFile(host, write);
  const existing = found?.content;
  if (read.code !== 0) {
    throw refuse(`${host.name}: ${runAs} cannot read the fragments in ${CONFIG_INCLUDE_PATH} (${read.stderr.trim()}); pgBackRest run as ${runAs} fails the same way. Fix their owner or mode`, 'ConfigPath');
  }
  const fragments = parseFragments(read.stdout);
  let own: ConfSettings;
  try {
    own = settingsFor(existing, n, fragments.map((f) => f.text));
  } catch (e) {
    if (e instanceof ConfigConflictError) throw refuse(`${host.name}:${write}: ${e.message}`, 'ConfigConflict');
    throw e;
  }
  const clashes = fragmentConflicts(host.name, write, stanza, own, fragments);
  if (clashes.length > 0) throw refuse(clashes.join('\n'), 'ConfigConflict');
  // Readable by the user that runs pgBackRest there, not by everyone: it may hold repository secrets
  // (masked, should the content ever reach an error message).
  const changed = await ops.replaceFile(host, write, new Secret(mergeConf(existing, stanza, own)), { owner: 'root', group, mode: '640' }, found);
  return { changed, detail: `${host.name}:${write} ${changed ? 'written' : 'up to date'}` };
}

/**
 * pgbackrest.conf on the repository host and every node, in the file pgBackRest reads there.
 * `withStandbys` adds the standbys to the repository's stanza section: only once they stream,
 * since pgBackRest refuses backup-standby=y without a standby to copy from.
 */
export async function ensurePgbackrestConf(ops: HostOps, spec: Spec, withStandbys: boolean): Promise<StepResult> {
  const [resolved, keys] = await Promise.all([withResolvedRepositoryOptions(spec), resolveOffsiteKeys(spec)]);
  const repo = repoHost(spec);
  const { user: repoUser } = spec.repository;
  const { osUser } = spec.postgres;
  const results = await Promise.all([
    ensureConf(ops, repo, repoUser, spec.stanza, (e, n, fragments) => repoHostSettings(e, resolved, n, fragments, withStandbys, keys)),
    ...spec.nodes.map((n) => ensureConf(ops, nodeAddress(n), osUser, spec.stanza, (e, cpus, fragments) => nodeSettings(e, spec, n, cpus, fragments, keys))),
  ]);
  return merge(results, `pgbackrest.conf up to date on ${results.length} hosts`);
}

/** pgbackrest.conf on a host that restores copies of the stanza's cluster (no node): the repository, nothing of a node's. */
export async function ensureCopyHostConf(ops: HostOps, spec: Spec, host: HostAddress): Promise<StepResult> {
  const { osUser } = spec.postgres;
  const keys = await resolveOffsiteKeys(spec);
  return ensureConf(ops, host, osUser, spec.stanza, (e, n, fragments) => copyHostSettings(e, spec, n, fragments, keys));
}

async function groupOf(ops: HostOps, host: HostAddress, user: string): Promise<string> {
  return (await ops.user(host, user))?.group ?? user;
}
