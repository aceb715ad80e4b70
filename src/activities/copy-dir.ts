import { program } from '../paths';
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { judgeCopyDir, parseCopyDirFacts, type CopyDirVerdict, type CopyPurpose } from '../facts/copy-dir';
import { parseInfo } from '../facts/pgbackrest-info';
import { check } from '../remote/ssh-pool';
import type { HostAddress } from '../remote/types';
import { script } from '../shell/command';
import type { Spec } from '../spec/schema';
import { refuse } from '../host/failures';
import type { HostOps } from '../host/host-ops';
import { repoHost } from './hosts';
import { infoArgs, runPgbackrest } from '../host/pgbackrest';

/** Root's own directory on a copy host: the claims on copy directories (facts/copy-dir.ts). */
const CLAIMS = '/var/lib/stanzactl/copies';

export function claimFile(dataDir: string): string {
  return `${CLAIMS}/${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;
}

// A recover's rehearsal restores to the drills' directory, as a drill.
const WORKFLOW_PURPOSE: Record<string, CopyPurpose> = { restoreDrill: 'drill', rehearseRecover: 'drill', restoreToHost: 'restore' };

/** What the copy is for, by the workflow that scheduled the activity: only ours use copy directories. */
export function copyPurpose(): CopyPurpose {
  const { workflowType, activityType } = Context.current().info;
  const purpose = WORKFLOW_PURPOSE[workflowType ?? ''];
  if (!purpose) throw refuse(`${activityType} works on a copy only for a drill, a recover's rehearsal or a restore --to, not for workflow ${workflowType}`, 'RefusedCopyHost');
  return purpose;
}

// What is at the directory, looked at as the database account, and our claim on it.
const FACTS = program('activities', 'copy-dir-facts');

// The claim on the directory's inode, read as the account (a link is refused: exit 3).
const CLAIM = program('activities', 'copy-dir-claim');

export interface CopyDir {
  readonly host: HostAddress;
  readonly pg: Spec['postgres'];
}

/**
 * Whether this drill or restore may use the copy's data directory (facts/copy-dir.ts judges); the
 * stanza's system identifiers are asked of the repository only when a cluster is there.
 */
export async function judgeCopyDirOn(ops: HostOps, spec: Spec, { host, pg }: CopyDir, purpose: CopyPurpose, interrupted: boolean): Promise<CopyDirVerdict> {
  const facts = parseCopyDirFacts(await ops.must(host, script(FACTS, pg.dataDir, claimFile(pg.dataDir), pg.osUser, pg.binDir)));
  const systemIds = facts.systemId === undefined || facts.entries === 0 ? [] : stanzaSystemIds(spec, await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, ...infoArgs(spec)));
  return judgeCopyDir(facts, { stanza: spec.stanza, purpose, systemIds, interrupted });
}

function stanzaSystemIds(spec: Spec, infoJson: string): string[] {
  return parseInfo(infoJson).find((s) => s.name === spec.stanza)?.db.map((d) => d.systemId) ?? [];
}

/** Claims the (empty) directory for this stanza and purpose; a retry finds its own claim. */
export async function claimCopyDir(ops: HostOps, spec: Spec, { host, pg }: CopyDir, purpose: CopyPurpose): Promise<boolean> {
  const c = script(CLAIM, claimFile(pg.dataDir), pg.dataDir, pg.osUser, spec.stanza, purpose);
  const r = await ops.run(host, c);
  if (r.code === 3) throw refuse(`${host.name}: ${r.stderr.trim()}: stanzactl claims only a directory it made or found empty`, 'RefusedCopyDir');
  return check(host, c, r).stdout.trim() === 'changed';
}
