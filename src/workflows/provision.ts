import { ActivityFailure, ApplicationFailure, patched } from '@temporalio/workflow';
import type { PreflightReport } from '../activities/preflight';
import type { FullBackupResult } from '../activities/stanza';
import type { StandbyPlan, StandbyState } from '../activities/standby';
import type { Spec } from '../spec/schema';
import { long, quick, release, waiting } from './profiles';
import { call, StepLog } from './steps';
import type { StepProgress } from './progress';
import { checkInput } from './input';
import { holding, runOwner } from './locks';
import { backupsFromStandby, everyNodeListed, nodeDirectories, pgbackrestConf, sshTrust, standbyPgpass, standbysListed } from './node-access';
import { restoredStandby } from './standby-restore';
import { observedSpec } from './topology';
import { inRepositorySlot } from './repository-slot';

// Histories recorded before this change prepared the standbys after the backup (tests/histories).
const STANDBYS_PREPARED_DURING_BACKUP = 'standbys-prepared-during-backup';
// Histories recorded before this change ran the steps one after the other (tests/histories).
const STEPS_OVERLAPPED = 'provision-steps-overlapped';
// Histories recorded before this change held no stanza lock (tests/histories).
const PROVISION_LOCKED = 'provision-locked';
// Runs recorded before a provision followed roles moved since the cluster was built fail on them.
const PROVISION_TOPOLOGY = 'provision-topology';
// Runs recorded before this change checked the stanza again after listing the standbys, also
// when backups are not taken from them.
const STANDBYS_LISTED_UNCHECKED = 'standbys-listed-unchecked';
// Runs recorded before made repo2's first backup before the standbys went into repo1's config.
const OFFSITE_BACKUP_LAST = 'offsite-backup-last';

export interface ProvisionResult {
  readonly stanza: string;
  readonly changed: boolean;
  readonly pgbackrestVersion: string;
  readonly postgresVersion: string;
  readonly backup: FullBackupResult['backup'];
  /** The newest full backup in repo2, with `offsite:` in the spec. */
  readonly offsiteBackup?: FullBackupResult['backup'];
  readonly standbys: StandbyState[];
  readonly steps: StepProgress[];
}

function names(spec: Spec, role: 'primary' | 'standby'): string[] {
  return spec.nodes.filter((n) => n.role === role).map((n) => n.name);
}

/**
 * The seed's procedure, end to end; every step an idempotent activity, standbys in parallel. Holds
 * the stanza from after the preflight (which only reads) to its end: refused while a recover, a
 * rebuild or another provision runs, and they are refused while it does.
 */
export async function provisionCluster(given: Spec): Promise<ProvisionResult> {
  checkInput('provisionCluster', given);
  const log = new StepLog();
  let spec = given;
  const preflight = () => call('preflight', quick, `preflight of ${spec.nodes.length + 1} hosts`, spec);
  const pre = await log.run('preflight', async () => {
    try {
      return await preflight();
    } catch (e) {
      // The cluster exists and its roles moved (a failover done by hand): it is provisioned on the
      // primary the hosts show, with no spec edit. Two primaries, or none, are refused.
      if (!(e instanceof ActivityFailure && e.cause instanceof ApplicationFailure && e.cause.type === 'RolesMoved') || !patched(PROVISION_TOPOLOGY)) throw e;
      spec = await observedSpec(given, 'the provision');
      return preflight();
    }
  });
  if (!patched(PROVISION_LOCKED)) return provisioned(spec, log, pre);
  // The lock directory is made by its claim on the repository host, which preflight reached: it
  // needs neither the repository account nor its path. A retry of the claim finds it its own.
  const owner = runOwner();
  return holding(log,
    () => call('claimProvisionLock', quick, `hold stanza ${spec.stanza} for the provision`, spec, owner),
    () => call('releaseProvisionLock', release, 'release the stanza', spec, owner),
    () => provisioned(spec, log, pre));
}

/** Each step of a provision once, as a thunk: both orders below run them. */
function stepsOf(spec: Spec, log: StepLog, pre: PreflightReport) {
  const standbys = names(spec, 'standby');
  // A provisioned cluster already streams: keep its standbys in the repository's config from the start.
  const standbysStream = standbys.length > 0 && standbys.every((s) => pre.streamingStandbys.includes(s));
  return {
    standbys,
    standbysStream,
    repositoryHost: () => log.step('repository host', 'ensureRepositoryHost', quick, `repository user and ${spec.repository.path}`, spec),
    nodeDirectories: (node: string) => nodeDirectories(log, spec, node),
    sshTrust: () => sshTrust(log, spec),
    pgbackrestConf: () => pgbackrestConf(log, spec, standbysListed(spec) && standbysStream),
    primaryCluster: () => log.step('primary', 'ensurePrimary', quick, 'primary cluster and archiving', spec),
    stanzaCreate: () => log.step('stanza-create', 'ensureStanza', quick, `stanza-create ${spec.stanza}`, spec),
    check: () => log.step('check', 'checkStanza', quick, `check ${spec.stanza}`, spec),
    fullBackup: () => inRepositorySlot(log, spec, 'full backup', () => log.step('full backup', 'ensureFullBackup', long, 'first full backup', spec)),
    // Only a spec with offsite: has this step, and no recorded run's spec does.
    offsiteBackup: () => inRepositorySlot(log, spec, 'offsite full backup', () => log.step('offsite full backup', 'ensureFullBackup', long, 'first full backup in repo2 (offsite)', spec, 2)),
    replicationAccess: () => log.step('replication access', 'ensureReplicationAccess', quick, 'replication role and pg_hba', spec),
    prepared: async (node: string, systemId: string) => {
      await standbyPgpass(log, spec, node);
      return log.step(`prepare ${node}`, 'prepareStandby', quick, `prepare ${node}`, spec, node, systemId);
    },
    streaming: async (node: string, plan: StandbyPlan) => {
      if (!plan.streaming) await restoredStandby(log, spec, node, plan.delta);
      return log.run(`${node} streaming`, async () => {
        const s = await call('waitStreaming', waiting, `wait for ${node} to stream`, spec, node);
        return { ...s, changed: false, detail: `${node} streams, replay lag ${s.replayLagBytes} bytes` };
      });
    },
  };
}

type Steps = ReturnType<typeof stepsOf>;

async function provisioned(spec: Spec, log: StepLog, pre: PreflightReport): Promise<ProvisionResult> {
  const steps = stepsOf(spec, log, pre);
  const { full, states } = patched(STEPS_OVERLAPPED) ? await overlapped(steps, spec, pre) : await oneAfterAnother(steps, spec);
  // repo2's first backup comes last: an object store out of reach fails it, and what repo1 needs
  // (the standbys in its config, their check) must not wait for it to come back.
  const offsiteLast = spec.offsite !== undefined && patched(OFFSITE_BACKUP_LAST);
  let offsite = spec.offsite && !offsiteLast ? await steps.offsiteBackup() : undefined;
  // The standbys go into the repository's config once they stream (pgBackRest refuses
  // backup-standby=y with none to copy from): unless they streamed before and are there already.
  if (everyNodeListed() ? steps.standbys.length > 0 && !steps.standbysStream : backupsFromStandby(spec)) {
    await log.step('pgbackrest.conf with standbys', 'ensurePgbackrestConf', quick, 'the standbys in the repository config', spec, true);
    // A check proves that backups can copy from a standby. Listed only so that pgBackRest finds the
    // primary itself after a role change, the standbys need none: each backup looks at them, and
    // an unreachable one is a warning to it. The check switched a WAL segment and waited for it.
    if (backupsFromStandby(spec) || !patched(STANDBYS_LISTED_UNCHECKED)) {
      await log.step('check with standbys', 'checkStanza', quick, `check ${spec.stanza} with standbys`, spec);
    }
  }
  if (offsiteLast) offsite = await steps.offsiteBackup();
  return {
    stanza: spec.stanza,
    changed: log.changed,
    pgbackrestVersion: pre.pgbackrestVersion,
    postgresVersion: pre.postgresVersion,
    backup: full.backup,
    ...(offsite ? { offsiteBackup: offsite.backup } : {}),
    standbys: states.map(({ name, state, replayLagBytes }) => ({ name, state, replayLagBytes })),
    steps: log.steps,
  };
}

/**
 * Each step waits only for what it needs; stanza-create needs all of the first ones, and the
 * standbys are prepared and replication opened while the backup runs. The primary's
 * archive_command names the stanza: on a running cluster it archives at once, so it is set only
 * once pgbackrest.conf says where that stanza's repository is. A cluster created now has next to
 * no WAL, so its creation and start go beside the rest: should a segment be pushed before the conf
 * is there, the push fails and PostgreSQL repeats it (a repository of another cluster refuses it).
 */
async function overlapped(s: Steps, spec: Spec, pre: PreflightReport): Promise<{ full: FullBackupResult; states: StandbyState[] }> {
  const dirs = spec.nodes.map((n) => s.nodeDirectories(n.name));
  const repository = s.repositoryHost();
  const conf = repository.then(s.pgbackrestConf);
  const archiving = pre.primary.exists ? Promise.all([conf, dirs[spec.nodes.findIndex((n) => n.role === 'primary')]]) : Promise.resolve();
  const [primary] = await Promise.all([archiving.then(s.primaryCluster), repository.then(s.sshTrust), conf, ...dirs]);
  await s.stanzaCreate();
  const [full, , plans] = await Promise.all([s.fullBackup(), s.replicationAccess(), Promise.all(s.standbys.map((n) => s.prepared(n, primary.systemId)))]);
  // A backup made just now waited for its WAL to reach the repository: it proved what check
  // proves (archive_command works, the repository host reaches the primary). An existing one
  // proves nothing about today, so a re-run checks, beside the standbys.
  const verified = full.changed ? Promise.resolve() : s.check();
  const [states] = await Promise.all([Promise.all(s.standbys.map((n, i) => s.streaming(n, plans[i]))), verified]);
  return { full, states };
}

/** The order of runs recorded before the steps overlapped. */
async function oneAfterAnother(s: Steps, spec: Spec): Promise<{ full: FullBackupResult; states: StandbyState[] }> {
  await Promise.all([s.repositoryHost(), ...spec.nodes.map((n) => s.nodeDirectories(n.name))]);
  await s.sshTrust();
  await s.pgbackrestConf();
  const primary = await s.primaryCluster();
  const repositoryReady = async () => {
    await s.stanzaCreate();
    await s.check();
    const backup = await s.fullBackup();
    await s.replicationAccess();
    return backup;
  };
  let full: FullBackupResult;
  let plans: StandbyPlan[] | undefined;
  if (patched(STANDBYS_PREPARED_DURING_BACKUP)) {
    // Preparing a standby needs the primary's system identifier, not the backup: overlap them.
    [full, plans] = await Promise.all([repositoryReady(), Promise.all(s.standbys.map((n) => s.prepared(n, primary.systemId)))]);
  } else {
    full = await repositoryReady();
  }
  const states = await Promise.all(s.standbys.map(async (node, i) => s.streaming(node, plans?.[i] ?? (await s.prepared(node, primary.systemId)))));
  return { full, states };
}
