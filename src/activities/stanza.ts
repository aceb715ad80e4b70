import { parseInfo, fullBackups, type StanzaInfo } from '../facts/pgbackrest-info';
import type { Spec } from '../spec/schema';
import { runDetachedPgbackrest, startedBefore } from '../host/detached-run';
import { repoHost } from './hosts';
import type { HostOps } from '../host/host-ops';
import { pgbackrestCommand, runPgbackrest } from '../host/pgbackrest';
import type { StepResult } from './types';

export async function stanzaInfo(ops: HostOps, spec: Spec): Promise<StanzaInfo | undefined> {
  const out = await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, 'info', '--output=json');
  return parseInfo(out).find((s) => s.name === spec.stanza);
}

/** stanza-create is idempotent in pgBackRest itself; its output tells whether it did anything. */
export async function ensureStanza(ops: HostOps, spec: Spec): Promise<StepResult> {
  const out = await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, '--log-level-console=info', 'stanza-create');
  const existed = /already exists/.test(out);
  return { changed: !existed, detail: existed ? `stanza ${spec.stanza} already exists and is valid` : `stanza ${spec.stanza} created` };
}

export async function checkStanza(ops: HostOps, spec: Spec): Promise<StepResult> {
  await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, 'check');
  return { changed: false, detail: `pgbackrest check passed for stanza ${spec.stanza}` };
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

function summary(info: StanzaInfo | undefined): BackupSummary | undefined {
  const full = info ? fullBackups(info).filter((b) => !b.error) : [];
  const b = full[full.length - 1];
  return b && { label: b.label, type: b.type, databaseSize: b.sizes.database, repoSize: b.sizes.repo, startedAt: b.timestamp.start, stoppedAt: b.timestamp.stop };
}

/** The seed's first full backup, only when the stanza has none; runs detached on the repository host. */
export async function ensureFullBackup(ops: HostOps, spec: Spec): Promise<FullBackupResult> {
  const host = repoHost(spec);
  // A crashed attempt's backup is re-attached (and reported as made here) before looking for others.
  if (!(await startedBefore(ops, host))) {
    const existing = summary(await stanzaInfo(ops, spec));
    if (existing) return { changed: false, detail: `full backup ${existing.label} exists`, backup: existing };
  }
  const { attached, finishedBefore } = await runDetachedPgbackrest(ops, host, pgbackrestCommand(spec.repository.user, spec.stanza, '--type=full', '--log-level-console=info', 'backup'));
  const made = summary(await stanzaInfo(ops, spec));
  if (!made) throw new Error(`pgBackRest reported success but stanza ${spec.stanza} shows no full backup`);
  const how = finishedBefore ? ' (made by an earlier attempt)' : attached ? ' (re-attached to the running backup)' : '';
  return { changed: !finishedBefore, detail: `full backup ${made.label}${how}`, backup: made };
}
