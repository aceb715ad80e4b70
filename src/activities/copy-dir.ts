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
import { runPgbackrest } from '../host/pgbackrest';

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

// The directory is looked at as the database account, so root follows no link that account could
// plant; the claim, in root's directory, is read as root. $1 dir, $2 claim file, $3 account, $4 binDir.
const FACTS = `set -u
runuser -u "$3" -- bash -c '
d=$1; bin=$2
if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then echo "other - 0"
elif [ ! -e "$d" ]; then echo "absent - 0"
elif ls -A -- "$d" >/dev/null 2>&1; then echo "directory $(stat -c %d:%i -- "$d") $(ls -A -- "$d" | wc -l)"
else echo "directory $(stat -c %d:%i -- "$d") ?"; fi
s=; if [ -r "$d/global/pg_control" ]; then s=$("$bin/pg_controldata" "$d" 2>/dev/null | sed -n "s/^Database system identifier: *//p"); fi
echo "system-id \${s:--}"
if "$bin/pg_ctl" status -D "$d" >/dev/null 2>&1; then echo "running yes"; else echo "running no"; fi
' stanzactl "$1" "$4"
cat -- "$2" 2>/dev/null || true`;

// $1 claim file, $2 dir, $3 account, $4 stanza, $5 purpose: the inode is read as the account (a link is refused).
const CLAIM = `set -eu
inode=$(runuser -u "$3" -- bash -c '[ -d "$1" ] && [ ! -L "$1" ] && stat -c %d:%i -- "$1"' stanzactl "$2") || { echo "$2 is not a directory" >&2; exit 3; }
line="$4 $5 $inode $2"
if [ "$(cat -- "$1" 2>/dev/null)" = "$line" ]; then echo unchanged; exit 0; fi
install -d -m 700 ${CLAIMS}
printf '%s\\n' "$line" > "$1.tmp"; mv -f -- "$1.tmp" "$1"
echo changed`;

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
  const systemIds = facts.systemId === undefined || facts.entries === 0 ? [] : stanzaSystemIds(spec, await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, 'info', '--output=json'));
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
