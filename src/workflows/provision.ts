import { patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PreflightReport } from '../activities/preflight';
import type { FullBackupResult } from '../activities/stanza';
import type { StandbyPlan, StandbyState } from '../activities/standby';
import type { Spec } from '../spec/schema';
import { long, quick, release, waiting } from './profiles';
import { holding, StepLog, titled } from './steps';
import type { StepProgress } from './progress';
import { checkInput } from './input';

const acts = proxyActivities<Activities>(quick);

// Histories recorded before this change prepared the standbys after the backup (tests/histories).
const STANDBYS_PREPARED_DURING_BACKUP = 'standbys-prepared-during-backup';
// Histories recorded before this change ran the steps one after the other (tests/histories).
const STEPS_OVERLAPPED = 'provision-steps-overlapped';
// Histories recorded before this change held no stanza lock (tests/histories).
const PROVISION_LOCKED = 'provision-locked';

export interface ProvisionResult {
  readonly stanza: string;
  readonly changed: boolean;
  readonly pgbackrestVersion: string;
  readonly postgresVersion: string;
  readonly backup: FullBackupResult['backup'];
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
export async function provisionCluster(spec: Spec): Promise<ProvisionResult> {
  checkInput('provisionCluster', spec);
  const log = new StepLog();
  const pre = await log.run('preflight', () => acts.preflight.executeWithOptions(titled(quick, `preflight of ${spec.nodes.length + 1} hosts`), [spec]));
  if (!patched(PROVISION_LOCKED)) return provisionSteps(spec, log, pre);
  // The lock directory is made by its claim on the repository host, which preflight reached: it
  // needs neither the repository account nor its path. A retry of the claim finds it its own.
  const { workflowId, runId } = workflowInfo();
  const owner = { workflowId, runId };
  return holding(log,
    () => acts.claimProvisionLock.executeWithOptions(titled(quick, `hold stanza ${spec.stanza} for the provision`), [spec, owner]),
    () => acts.releaseProvisionLock.executeWithOptions(titled(release, 'release the stanza'), [spec, owner]),
    () => provisionSteps(spec, log, pre));
}

async function provisionSteps(spec: Spec, log: StepLog, pre: PreflightReport): Promise<ProvisionResult> {
  const standbys = names(spec, 'standby');
  const fromStandby = (spec.backups?.fromStandby ?? false) !== false;
  // A provisioned cluster already streams: keep its standbys in the repository's config from the start.
  const standbysStream = standbys.length > 0 && standbys.every((s) => pre.streamingStandbys.includes(s));

  const repositoryHost = () => log.run('repository host', () => acts.ensureRepositoryHost.executeWithOptions(titled(quick, `repository user and ${spec.repository.path}`), [spec]));
  const nodeDirectories = (node: string) => log.run(`pgBackRest dirs on ${node}`, () => acts.ensureNodeDirectories.executeWithOptions(titled(quick, `pgBackRest dirs on ${node}`), [spec, node]));
  const sshTrust = () => log.run('SSH trust', () => acts.ensureSshTrust.executeWithOptions(titled(quick, 'SSH trust repository <-> nodes'), [spec]));
  const pgbackrestConf = () => log.run('pgbackrest.conf', () => acts.ensurePgbackrestConf.executeWithOptions(titled(quick, 'pgbackrest.conf on every host'), [spec, fromStandby && standbysStream]));
  const primaryCluster = () => log.run('primary', () => acts.ensurePrimary.executeWithOptions(titled(quick, 'primary cluster and archiving'), [spec]));
  const stanzaCreate = () => log.run('stanza-create', () => acts.ensureStanza.executeWithOptions(titled(quick, `stanza-create ${spec.stanza}`), [spec]));
  const check = () => log.run('check', () => acts.checkStanza.executeWithOptions(titled(quick, `check ${spec.stanza}`), [spec]));
  const fullBackup = () => log.run('full backup', () => acts.ensureFullBackup.executeWithOptions(titled(long, 'first full backup'), [spec]));
  const replicationAccess = () => log.run('replication access', () => acts.ensureReplicationAccess.executeWithOptions(titled(quick, 'replication role and pg_hba'), [spec]));
  const prepared = async (node: string, systemId: string) => {
    await log.run(`.pgpass on ${node}`, () => acts.ensureStandbyPgpass.executeWithOptions(titled(quick, `.pgpass on ${node}`), [spec, node]));
    return log.run(`prepare ${node}`, () => acts.prepareStandby.executeWithOptions(titled(quick, `prepare ${node}`), [spec, node, systemId]));
  };
  const streaming = async (node: string, plan: StandbyPlan) => {
    if (!plan.streaming) {
      await log.run(`restore ${node}`, () => acts.restoreStandby.executeWithOptions(titled(long, `restore --type=standby on ${node}`), [spec, node, plan.delta]));
      await log.run(`start ${node}`, () => acts.startStandby.executeWithOptions(titled(quick, `start ${node}`), [spec, node]));
    }
    return log.run(`${node} streaming`, async () => {
      const s = await acts.waitStreaming.executeWithOptions(titled(waiting, `wait for ${node} to stream`), [spec, node]);
      return { ...s, changed: false, detail: `${node} streams, replay lag ${s.replayLagBytes} bytes` };
    });
  };

  let full: FullBackupResult;
  let states: StandbyState[];
  if (patched(STEPS_OVERLAPPED)) {
    // Each step waits only for what it needs; stanza-create needs all of the first ones, and the
    // standbys are prepared and replication opened while the backup runs. The primary's
    // archive_command names the stanza: on a running cluster it archives at once, so it is set
    // only once pgbackrest.conf says where that stanza's repository is. A cluster created now has
    // next to no WAL, so its creation and start go beside the rest: should a segment be pushed
    // before the conf is there, the push fails and PostgreSQL repeats it (a repository of another
    // cluster refuses it).
    const dirs = spec.nodes.map((n) => nodeDirectories(n.name));
    const repository = repositoryHost();
    const conf = repository.then(pgbackrestConf);
    const archiving = pre.primary.exists ? Promise.all([conf, dirs[spec.nodes.findIndex((n) => n.role === 'primary')]]) : Promise.resolve();
    const [primary] = await Promise.all([archiving.then(primaryCluster), repository.then(sshTrust), conf, ...dirs]);
    await stanzaCreate();
    let plans: StandbyPlan[];
    [full, , plans] = await Promise.all([fullBackup(), replicationAccess(), Promise.all(standbys.map((n) => prepared(n, primary.systemId)))]);
    // A backup made just now waited for its WAL to reach the repository: it proved what check
    // proves (archive_command works, the repository host reaches the primary). An existing one
    // proves nothing about today, so a re-run checks, beside the standbys.
    const verified = full.changed ? Promise.resolve() : check();
    [states] = await Promise.all([Promise.all(standbys.map((n, i) => streaming(n, plans[i]))), verified]);
  } else {
    await Promise.all([repositoryHost(), ...spec.nodes.map((n) => nodeDirectories(n.name))]);
    await sshTrust();
    await pgbackrestConf();
    const primary = await primaryCluster();
    const repositoryReady = async () => {
      await stanzaCreate();
      await check();
      const backup = await fullBackup();
      await replicationAccess();
      return backup;
    };
    let plans: StandbyPlan[] | undefined;
    if (patched(STANDBYS_PREPARED_DURING_BACKUP)) {
      // Preparing a standby needs the primary's system identifier, not the backup: overlap them.
      [full, plans] = await Promise.all([repositoryReady(), Promise.all(standbys.map((n) => prepared(n, primary.systemId)))]);
    } else {
      full = await repositoryReady();
    }
    states = await Promise.all(standbys.map(async (node, i) => streaming(node, plans?.[i] ?? (await prepared(node, primary.systemId)))));
  }

  if (fromStandby) {
    await log.run('pgbackrest.conf with standbys', () => acts.ensurePgbackrestConf.executeWithOptions(titled(quick, 'backup-standby in the repository config'), [spec, true]));
    await log.run('check with standbys', () => acts.checkStanza.executeWithOptions(titled(quick, `check ${spec.stanza} with standbys`), [spec]));
  }

  return {
    stanza: spec.stanza,
    changed: log.changed,
    pgbackrestVersion: pre.pgbackrestVersion,
    postgresVersion: pre.postgresVersion,
    backup: full.backup,
    standbys: states.map(({ name, state, replayLagBytes }) => ({ name, state, replayLagBytes })),
    steps: log.steps,
  };
}
