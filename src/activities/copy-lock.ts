import { createHash } from 'node:crypto';
import type { CopyPlace } from '../spec/restore-copy';
import type { Spec } from '../spec/schema';
import { claimLock, describeHolder, releaseLock, type Blocker, type Liveness, type LockOwner, type LockPlace } from '../host/locks';
import { refuse } from '../host/failures';
import type { HostOps } from '../host/host-ops';
import { checkedCopy } from './restore-copy';
import type { StepResult } from './types';

/**
 * A copy's directory and port are the copy host's, whatever the stanza: drills of two stanzas that
 * share a scratch directory or port, or a drill and a `restore --to` there, must take turns. So the
 * lock lives on the copy host itself (the same entries however the host is named): one key for the
 * directory, one for the port, and one for the stanza name, all claimed or none. The name because
 * the host's pgbackrest.conf has one `[<stanza>]` and one repo1-host, rewritten by each copy: two
 * clusters of one stanza name on two repository hosts, copied at once even to two directories,
 * would restore and replay from whichever repository the last of them wrote.
 */
export function copyLockKeys(stanza: string, place: Pick<CopyPlace, 'dataDir' | 'port'>): string[] {
  return [`dir-${createHash('sha256').update(place.dataDir).digest('hex').slice(0, 16)}`, `port-${place.port}`, `stanza-${stanza}`];
}

async function copyHostPlace(ops: HostOps, spec: Spec, place: CopyPlace): Promise<LockPlace> {
  return { host: (await checkedCopy(ops, spec, place)).host, scope: 'copy host', stanza: spec.stanza };
}

function describeEntry(b: Blocker, spec: Spec, place: CopyPlace): string {
  const what = b.key.startsWith('port-') ? `port ${place.port}` : b.key.startsWith('stanza-') ? `the host's pgbackrest.conf section [${spec.stanza}]` : 'the directory';
  return `${what} held by ${describeHolder(b.holder)}`;
}

/**
 * Holds the copy's directory and port on its host for one drill or restore --to; another is
 * refused (non-retryable) before it changes anything, naming who holds them.
 */
export async function claimCopyLock(ops: HostOps, spec: Spec, place: CopyPlace, owner: LockOwner, alive: Liveness, busyType: string): Promise<StepResult> {
  const where = `${place.host}:${place.dataDir} (port ${place.port})`;
  const { made, live } = await claimLock(ops, await copyHostPlace(ops, spec, place), owner, 'copy', copyLockKeys(spec.stanza, place), alive);
  if (live.length > 0) {
    throw refuse(`${where} is busy: ${live.map((b) => describeEntry(b, spec, place)).join('; ')}. One drill or restore --to at a time on a host's directory and port, whatever the stanza, and of a stanza name on a host; nothing was done`, busyType);
  }
  return { changed: made, detail: `${where} held for ${owner.workflowId}` };
}

export async function releaseCopyLock(ops: HostOps, spec: Spec, place: CopyPlace, owner: LockOwner): Promise<StepResult> {
  const released = await releaseLock(ops, await copyHostPlace(ops, spec, place), owner, 'copy', copyLockKeys(spec.stanza, place));
  return { changed: released, detail: `${place.host}:${place.dataDir} (port ${place.port}) ${released ? 'released' : 'was not held'}` };
}
