import { program } from '../paths';
import { cmd, script } from '../shell/command';
import type { HostAddress } from '../remote/types';
import { commandLineOnly, describeChoice } from '../facts/pgbackrest-config';
import { parseInfo, systemIdOf } from '../facts/pgbackrest-info';
import { parsePgbackrestVersion } from '../facts/pgbackrest-version';
import { primaryNode } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { clusterState, streamingStandbys as streamingTo, type ClusterState } from './cluster-state';
import { refuse } from '../host/failures';
import { checkControl } from './postgres-service';
import { nodeAddress, repoHost } from './hosts';
import { observeTopology } from './topology';
import type { HostOps } from '../host/host-ops';
import { detectConfigFile } from './pgbackrest-conf';
import { infoArgs, pgbackrestCommand } from '../host/pgbackrest';
import type { StepResult } from './types';

export interface PreflightReport extends StepResult {
  readonly pgbackrestVersion: string;
  readonly postgresVersion: string;
  readonly primary: ClusterState;
  /** Standbys (by application_name = node name) the primary streams to right now. */
  readonly streamingStandbys: string[];
}

const POSTGRES_VERSION = program('activities', 'postgres-version');

// backup.info is pgBackRest's own record of which cluster a stanza belongs to. An encrypted
// repository encrypts it too (openssl's "Salted__" header): then only pgBackRest can read it.
const REPO_SYSTEM_ID = program('activities', 'repo-system-id');

/** The cluster the repository holds the stanza for, when it holds one that can be read. */
async function readRepoSystemId(ops: HostOps, spec: Spec): Promise<string | undefined> {
  const repo = repoHost(spec);
  const out = (await ops.must(repo, script(REPO_SYSTEM_ID, spec.repository.path, spec.stanza))).trim();
  if (out !== 'encrypted') return out || undefined;
  // Through the cipher pass an earlier provision wrote into the repository host's pgbackrest.conf.
  // Without it, stanza-create compares the system identifiers itself and refuses a mismatch.
  const r = await ops.run(repo, pgbackrestCommand(spec.repository.user, spec.stanza, ...infoArgs(spec)));
  const stanza = r.code === 0 ? parseInfo(r.stdout).find((s) => s.name === spec.stanza) : undefined;
  return stanza && systemIdOf(stanza);
}

function settled<T>(r: PromiseSettledResult<T>): T {
  if (r.status === 'rejected') throw r.reason;
  return r.value;
}

/** Everything is looked at, nothing is changed; a failure here leaves every host as it was. */
export async function preflight(ops: HostOps, spec: Spec): Promise<PreflightReport> {
  const repo = repoHost(spec);
  const nodes = spec.nodes.map(nodeAddress);
  const hosts: HostAddress[] = [repo, ...nodes];
  // Read at once, each failure still reported in the order the checks were written in.
  const [versionsRead, configsRead, pgVersionsRead] = await Promise.allSettled([
    Promise.all(hosts.map(async (h) => {
      const r = await ops.run(h, cmd('pgbackrest', 'version'));
      if (r.code !== 0) throw refuse(`${h.name}: pgBackRest is not installed or does not run (${(r.stderr || r.stdout).trim()})`, 'PreflightFailed');
      return { host: h.name, version: parsePgbackrestVersion(r.stdout) };
    })),
    // Hosts vary: which file pgBackRest reads there decides where the conf step writes.
    Promise.all(hosts.map(async (h) => {
      const choice = await detectConfigFile(ops, h);
      return describeChoice(h.name, choice, commandLineOnly(await ops.readFile(h, choice.write)));
    })),
    Promise.all(nodes.map(async (h) => {
      const [out, account] = await Promise.all([ops.must(h, script(POSTGRES_VERSION, spec.postgres.binDir)).then((o) => o.trim()), ops.user(h, spec.postgres.osUser)]);
      if (out === 'missing') throw refuse(`${h.name}: no PostgreSQL server binary at ${spec.postgres.binDir}/postgres (postgres.binDir)`, 'PreflightFailed');
      if (!account) throw refuse(`${h.name}: OS user ${spec.postgres.osUser} (postgres.osUser) does not exist`, 'PreflightFailed');
      // Before anything changes: every later start and stop goes the spec's way (postgres.control).
      await checkControl(ops, h, spec.postgres);
      return out;
    })),
  ]);
  const versions = settled(versionsRead);
  const configs = settled(configsRead);
  const distinct = [...new Set(versions.map((v) => v.version))];
  if (distinct.length > 1) {
    throw refuse(`pgBackRest versions differ between hosts: ${versions.map((v) => `${v.host} ${v.version}`).join(', ')}; install one version everywhere`, 'PreflightFailed');
  }
  const pgVersions = settled(pgVersionsRead);
  const major = new Set(pgVersions.map((v) => /(\d+)(\.\d+)?/.exec(v)?.[1]));
  if (major.size > 1 || !major.has(String(spec.postgres.version))) {
    throw refuse(`PostgreSQL binaries at ${spec.postgres.binDir} are ${[...new Set(pgVersions)].join(', ')}, the spec says version ${spec.postgres.version}`, 'PreflightFailed');
  }

  const primaryAddr = nodeAddress(primaryNode(spec));
  const [primary, repoSystemId] = await Promise.all([
    clusterState(ops, primaryAddr, spec.postgres),
    readRepoSystemId(ops, spec),
  ]);
  if (primary.exists && !primary.running) {
    // A stopped primary is started by the provision: only when no other node took over meanwhile
    // (a failover: starting it would make two primaries, and its standbys would be restored onto
    // the old timeline, losing the new primary's writes).
    const topology = await observeTopology(ops, spec);
    if (topology.primary !== null && topology.primary !== primaryAddr.name) {
      throw refuse(`${primaryAddr.name} is the primary in the spec, but it is stopped and ${topology.primary} runs as the primary`, 'RolesMoved');
    }
    if (topology.primary === null) throw refuse(`${primaryAddr.name}, the spec's primary, is stopped, and it is not the one to start: ${topology.problems.join('; ')}`, 'PreflightFailed');
  }
  if (primary.exists && primary.controlState !== 'in production') {
    // A node in recovery is a standby: the roles moved since the cluster was built (the workflow
    // then reads them from the hosts and runs preflight again on the primary it finds).
    const moved = /recovery/.test(primary.controlState ?? '');
    throw refuse(`${primaryAddr.name} is the primary in the spec, but its cluster is "${primary.controlState}", not a running primary${moved ? '' : '; start it first'}`, moved ? 'RolesMoved' : 'PreflightFailed');
  }
  if (repoSystemId && repoSystemId !== primary.systemId) {
    throw refuse(
      `the repository on ${repo.name} already holds stanza "${spec.stanza}" for another cluster (system identifier ${repoSystemId}; ` +
        `${primaryAddr.name} ${primary.systemId ? `has ${primary.systemId}` : 'has no cluster yet'}). Choose another stanza name or remove the old stanza with stanza-delete`,
      'StanzaMismatch',
    );
  }
  const streamingStandbys = primary.running
    ? await streamingTo(ops, primaryAddr, spec.postgres)
    : [];
  return {
    changed: false,
    detail: `${hosts.length} hosts answer with pinned keys; pgBackRest ${distinct[0]}; ${pgVersions[0]}; primary ${primary.exists ? `cluster ${primary.systemId} ${primary.running ? 'running' : 'stopped'}` : 'has no cluster yet'}; ${configs.join(', ')}`,
    pgbackrestVersion: distinct[0],
    postgresVersion: pgVersions[0],
    primary,
    streamingStandbys,
  };
}
