import { archivingProven, stanzaServes } from '../facts/archiving-proof';
import { parseInfo, fullBackups, type StanzaInfo } from '../facts/pgbackrest-info';
import { primaryNode } from '../spec/roles';
import type { RepoIndex, Spec } from '../spec/schema';
import { runDetached, startedBefore } from '../host/detached-run';
import type { HostOps } from '../host/host-ops';
import { backupArchiveArgs, infoArgs, pgbackrestCommand, repoArgs, repoPart, runPgbackrest } from '../host/pgbackrest';
import { query } from './cluster-state';
import { nodeAddress, repoHost } from './hosts';
import { ARCHIVER_SQL, parseArchiverRow } from './status';
import type { StepResult } from './types';

/** The stanza in every repository, or in `repo` alone: a read of one must not wait on the other being unreachable. */
export async function stanzaInfo(ops: HostOps, spec: Spec, repo?: RepoIndex): Promise<StanzaInfo | undefined> {
  const out = await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, ...infoArgs(spec, repo));
  return parseInfo(out).find((s) => s.name === spec.stanza);
}

/** `pgbackrest check`: switches the primary's WAL segment out and waits until the repository has it. */
export async function switchAndCheck(ops: HostOps, spec: Spec): Promise<void> {
  await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, 'check');
}

/** The primary's system identifier and clock (epoch seconds), from the running server. */
async function primaryClock(ops: HostOps, spec: Spec): Promise<{ systemId: string; now: number }> {
  const [systemId, now] = (await query(ops, nodeAddress(primaryNode(spec)), spec.postgres, 'SELECT system_identifier, extract(epoch FROM now()) FROM pg_control_system()')).split('\t');
  return { systemId, now: Number(now) };
}

/**
 * stanza-create only when `pgbackrest info` does not already show the stanza in good order for
 * this primary (stanza-create is idempotent too, but takes seconds to say so).
 */
export async function ensureStanza(ops: HostOps, spec: Spec): Promise<StepResult> {
  const [stanza, { systemId }] = await Promise.all([stanzaInfo(ops, spec), primaryClock(ops, spec)]);
  const serves = stanzaServes(stanza, spec.stanza, systemId);
  if (serves.ok) return { changed: false, detail: `${serves.detail} (pgbackrest info)` };
  const out = await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, '--log-level-console=info', 'stanza-create');
  const existed = /already exists/.test(out);
  return { changed: !existed, detail: existed ? `stanza ${spec.stanza} already exists and is valid` : `stanza ${spec.stanza} created` };
}

/**
 * What `pgbackrest check` proves, from facts when they prove it (archivingProven), else by running
 * it: a check forces a WAL switch and waits for the segment, seconds a verified cluster need not spend.
 */
export async function checkStanza(ops: HostOps, spec: Spec): Promise<StepResult> {
  const [stanza, archiver, { systemId, now }] = await Promise.all([
    stanzaInfo(ops, spec),
    query(ops, nodeAddress(primaryNode(spec)), spec.postgres, ARCHIVER_SQL).then(parseArchiverRow),
    primaryClock(ops, spec),
  ]);
  const proof = archivingProven(archiver, stanza, spec.stanza, systemId, now);
  if (proof.ok) return { changed: false, detail: `verified from facts: ${proof.detail}` };
  await switchAndCheck(ops, spec);
  return { changed: false, detail: `pgbackrest check passed for stanza ${spec.stanza} (run because ${proof.why})` };
}

export interface BackupSummary {
  readonly label: string;
  readonly type: string;
  readonly databaseSize: number;
  readonly repoSize: number;
  readonly startedAt: number;
  readonly stoppedAt: number;
}

export interface FullBackupResult extends StepResult {
  readonly backup: BackupSummary;
}

function summary(info: StanzaInfo | undefined, repo: RepoIndex): BackupSummary | undefined {
  const full = info ? fullBackups(info).filter((b) => !b.error && (b.repoKey ?? 1) === repo) : [];
  const b = full[full.length - 1];
  return b && { label: b.label, type: b.type, databaseSize: b.sizes.database, repoSize: b.sizes.repo, startedAt: b.timestamp.start, stoppedAt: b.timestamp.stop };
}

/** The seed's first full backup, only when repository `repo` has none of the stanza; runs detached on the repository host. */
export async function ensureFullBackup(ops: HostOps, spec: Spec, repo: RepoIndex = 1): Promise<FullBackupResult> {
  const host = repoHost(spec);
  const part = repoPart(repo);
  const where = repo === 1 ? '' : ` in repo${repo}`;
  // A crashed attempt's backup is re-attached (and reported as made here) before looking for others.
  if (!(await startedBefore(ops, host, part))) {
    const existing = summary(await stanzaInfo(ops, spec, repo), repo);
    if (existing) return { changed: false, detail: `full backup ${existing.label}${where} exists`, backup: existing };
  }
  const command = pgbackrestCommand(spec.repository.user, spec.stanza, '--type=full', ...repoArgs(spec, repo), ...backupArchiveArgs(spec), '--log-level-console=info', 'backup');
  const { attached, finishedBefore } = await runDetached(ops, host, command, { part });
  const made = summary(await stanzaInfo(ops, spec, repo), repo);
  if (!made) throw new Error(`pgBackRest reported success but stanza ${spec.stanza} shows no full backup${where}`);
  const how = finishedBefore ? ' (made by an earlier attempt)' : attached ? ' (re-attached to the running backup)' : '';
  return { changed: !finishedBefore, detail: `full backup ${made.label}${where}${how}`, backup: made };
}
