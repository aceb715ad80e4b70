import type { CopyPlace } from '../spec/restore-copy';
import type { Spec } from '../spec/schema';
import { describeHolder, LOCKS, type Blocker, type LockOwner } from '../host/stanza-locks';
import { copyLockNames, copyLockScripts } from '../host/copy-locks';
import { refuse } from '../host/failures';
import type { HostOps } from '../host/host-ops';
import { checkedCopy } from './restore-copy';
import { claimPastDead, type Liveness } from '../host/lock-claim';
import type { StepResult } from './types';

function describeEntry(b: Blocker, place: CopyPlace): string {
  const what = b.node?.startsWith('port-') ? `port ${place.port}` : `the directory`;
  return `${what} held by ${describeHolder(b.holder)}`;
}

/**
 * Holds the copy's directory and port on its host for one drill or restore --to; another is
 * refused (non-retryable) before it changes anything, naming who holds them.
 */
export async function claimCopyLock(ops: HostOps, spec: Spec, place: CopyPlace, owner: LockOwner, alive: Liveness, busyType: string): Promise<StepResult> {
  const { host } = await checkedCopy(ops, spec, place);
  const where = `${place.host}:${place.dataDir} (port ${place.port})`;
  const out = await claimPastDead(ops, host, copyLockScripts.claim(LOCKS, owner, copyLockNames(place)), (b) => copyLockScripts.dropDead(LOCKS, b), alive,
    (live) => refuse(`${where} is busy: ${live.map((b) => describeEntry(b, place)).join('; ')}. One drill or restore --to at a time on a host's directory and port, whatever the stanza; nothing was done`, busyType),
    `claiming ${where}`);
  return { changed: out === 'claimed new', detail: `${where} held for ${owner.workflowId}` };
}

export async function releaseCopyLock(ops: HostOps, spec: Spec, place: CopyPlace, owner: LockOwner): Promise<StepResult> {
  const { host } = await checkedCopy(ops, spec, place);
  const released = (await ops.must(host, copyLockScripts.release(LOCKS, owner, copyLockNames(place)))).includes('released');
  return { changed: released, detail: `${place.host}:${place.dataDir} (port ${place.port}) ${released ? 'released' : 'was not held'}` };
}
