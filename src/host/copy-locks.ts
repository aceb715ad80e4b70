import { createHash } from 'node:crypto';
import { program } from '../paths';
import { script, type Command } from '../shell/command';
import type { CopyPlace } from '../spec/restore-copy';
import type { Blocker, LockOwner } from './stanza-locks';

/**
 * A copy's directory and port are the copy host's, whatever the stanza: drills of two stanzas that
 * share a scratch directory or port, or a drill and a `restore --to` there, must take turns. So the
 * lock lives on the copy host itself (the same files however the host is named), one entry per
 * directory and one per port, `copy-dir-<hash>/` and `copy-port-<n>/` in its LOCKS, each holding
 * `owner` ("WORKFLOW_ID RUN_ID SINCE", as the stanza locks): both are claimed or neither, under one
 * flock. A holder whose workflow closed is dropped (compare-and-set), as for the stanza locks.
 */

/** The lock entries of a place: its directory and its port. */
export function copyLockNames(place: Pick<CopyPlace, 'dataDir' | 'port'>): string[] {
  return [`dir-${createHash('sha256').update(place.dataDir).digest('hex').slice(0, 16)}`, `port-${place.port}`];
}

// Claim, release and drop-dead, the first argument naming which (scripts/copy-lock.sh).
const COPY_LOCK = program('host', 'copy-lock');

export const copyLockScripts = {
  claim: (locks: string, o: LockOwner, names: string[]): Command => script(COPY_LOCK, 'claim', locks, o.workflowId, o.runId, ...names),
  release: (locks: string, o: LockOwner, names: string[]): Command => script(COPY_LOCK, 'release', locks, o.workflowId, o.runId, ...names),
  dropDead: (locks: string, b: Blocker): Command => script(COPY_LOCK, 'drop_dead', locks, '-', '-', b.node ?? '', b.holder.line),
};
