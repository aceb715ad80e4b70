import { patched } from '@temporalio/workflow';
import type { Spec } from '../spec/schema';
import { quick } from './profiles';
import type { StepLog } from './steps';

/**
 * What a node needs to reach the repository and the primary: provision ensures each as soon as
 * what it needs is there, a rebuild all of them before it touches the node (a host rebuilt from
 * scratch lost them).
 */

/** Backups may be taken from a standby (`backups.fromStandby` true or prefer). */
export const backupsFromStandby = (spec: Spec): boolean => (spec.backups?.fromStandby ?? false) !== false;

// Runs recorded before the repository's config listed every node name the standbys there only for
// backups from a standby.
const EVERY_NODE_LISTED = 'conf-every-node';

/**
 * Whether the repository's config names the standbys once they are there: always now, so that
 * pgBackRest finds the primary itself after a role change (and backup-standby picks a standby).
 */
export const standbysListed = (spec: Spec): boolean => everyNodeListed() || backupsFromStandby(spec);

export const everyNodeListed = (): boolean => patched(EVERY_NODE_LISTED);

export const nodeDirectories = (log: StepLog, spec: Spec, node: string) =>
  log.step(`pgBackRest dirs on ${node}`, 'ensureNodeDirectories', quick, `pgBackRest dirs on ${node}`, spec, node);

export const sshTrust = (log: StepLog, spec: Spec) => log.step('SSH trust', 'ensureSshTrust', quick, 'SSH trust repository <-> nodes', spec);

export const pgbackrestConf = (log: StepLog, spec: Spec, withStandbys: boolean) =>
  log.step('pgbackrest.conf', 'ensurePgbackrestConf', quick, 'pgbackrest.conf on every host', spec, withStandbys);

export const standbyPgpass = (log: StepLog, spec: Spec, node: string) => log.step(`.pgpass on ${node}`, 'ensureStandbyPgpass', quick, `.pgpass on ${node}`, spec, node);

/** Every access of `node`, one after the other. */
export async function nodeAccess(log: StepLog, spec: Spec, node: string): Promise<void> {
  await nodeDirectories(log, spec, node);
  await sshTrust(log, spec);
  await pgbackrestConf(log, spec, standbysListed(spec));
  await standbyPgpass(log, spec, node);
}
