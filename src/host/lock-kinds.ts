/**
 * Who excludes whom: the one table of lock kinds. The claim script (scripts/lock.sh) knows no kind;
 * a claim passes it the entries its kind conflicts with, computed here. The refusals' "starts only
 * when no ..." and the table in docs/durability.md are generated from it (a unit test keeps the
 * docs equal to `lockTableMarkdown()`).
 */
export type LockKind = 'recover' | 'rebuild' | 'backup' | 'provision' | 'restore' | 'drill' | 'switchover' | 'failover' | 'copy';

/** An entry's place: the stanza (on its repository host), or a copy host's directory or port, whatever the stanza. */
export type LockScope = 'stanza' | 'copy host';

/** What keys a kind's entries: one per stanza, per node, per run, or per directory and port of a copy host. */
type Key = 'stanza' | 'node' | 'run' | 'place';

/** Another kind's entries in the way: every one, or only one with the same key (a rebuild of the same node). */
type Reach = 'any' | 'same key';

interface KindRule {
  readonly scope: LockScope;
  readonly key: Key;
  readonly excludes: Partial<Record<LockKind, Reach>>;
}

// Every kind that changes which node is primary or what runs on a node conflicts with the others that do.
const CLUSTER_CHANGES = { recover: 'any', rebuild: 'any', provision: 'any', switchover: 'any', failover: 'any' } as const;

/**
 * Symmetric (a unit test checks it): if A excludes B, B excludes A, with the same reach.
 * - recover replaces the whole cluster, its timeline and backups: it excludes every kind of the
 *   stanza but a drill (which restores to its own scratch host and reads nothing a recover removes
 *   before the drill's own restore has it);
 * - rebuild restores one standby from the primary: beside backups and other nodes' rebuilds;
 * - backup: one at a time (pgBackRest would refuse the second with a lock error; ours names the
 *   holder instead); beside rebuilds and provisions (pgBackRest's own lock orders it with a
 *   provision's first full backup);
 * - provision creates, starts and restores nodes: it excludes whatever changes the cluster;
 * - restore --to only reads the repository for a copy on another host: only a recover, which
 *   replaces what it reads, is in its way; one entry per run;
 * - drill (runs older than the copy lock) shared one scratch directory per stanza: one at a time;
 * - switchover and failover change which node is primary: they exclude everything that changes
 *   the cluster, and backups too, whose source (the primary or a standby) they would change under
 *   them; not restores or drills, which only read the repository (archived WAL crosses timelines).
 *   A failover's workflow decides itself what to do with a backup in its way;
 * - copy: a copy host's directory and port, one holder each whatever the stanza.
 */
export const LOCK_KINDS: Readonly<Record<LockKind, KindRule>> = {
  recover: { scope: 'stanza', key: 'stanza', excludes: { ...CLUSTER_CHANGES, backup: 'any', restore: 'any' } },
  rebuild: { scope: 'stanza', key: 'node', excludes: { ...CLUSTER_CHANGES, rebuild: 'same key' } },
  backup: { scope: 'stanza', key: 'stanza', excludes: { recover: 'any', backup: 'any', switchover: 'any', failover: 'any' } },
  provision: { scope: 'stanza', key: 'stanza', excludes: CLUSTER_CHANGES },
  restore: { scope: 'stanza', key: 'run', excludes: { recover: 'any', restore: 'same key' } },
  drill: { scope: 'stanza', key: 'stanza', excludes: { drill: 'any' } },
  switchover: { scope: 'stanza', key: 'stanza', excludes: { ...CLUSTER_CHANGES, backup: 'any' } },
  failover: { scope: 'stanza', key: 'stanza', excludes: { ...CLUSTER_CHANGES, backup: 'any' } },
  copy: { scope: 'copy host', key: 'place', excludes: { copy: 'same key' } },
};

export const LOCK_KIND_NAMES = Object.keys(LOCK_KINDS) as LockKind[];

/** The key of a kind held once per stanza. */
export const WHOLE = 'all';

/** The entries a claim of `kind` under `keys` must find free: "KIND" (every key) or "KIND/KEY". */
export function conflictsOf(kind: LockKind, keys: readonly string[]): string[] {
  return Object.entries(LOCK_KINDS[kind].excludes).flatMap(([other, reach]) => (reach === 'any' ? [other] : keys.map((k) => `${other}/${k}`)));
}

/** What a holder of `kind` is, for a refusal: "a rebuild of pg2-srv", "a restore --to", "a recover". */
export function describeKind(kind: LockKind, key: string): string {
  if (kind === 'rebuild') return `a rebuild of ${key}`;
  return kind === 'restore' ? 'a restore --to' : `a ${kind}`;
}

/** "no rebuild, backup, ... or other recover of the stanza runs": what a claim of `kind` waits for. */
export function startsOnlyWhen(kind: LockKind): string {
  const others = LOCK_KIND_NAMES.filter((k) => k !== kind && LOCK_KINDS[kind].excludes[k]);
  return `A ${kind} starts only when no ${others.join(', ')} or other ${kind} of the ${LOCK_KINDS[kind].scope} runs`;
}

/** The docs' table of the stanza's kinds: the row runs, the column asks. */
export function lockTableMarkdown(): string {
  const kinds = LOCK_KIND_NAMES.filter((k) => LOCK_KINDS[k].scope === 'stanza');
  const cell = (running: LockKind, asking: LockKind): string => {
    const reach = LOCK_KINDS[asking].excludes[running];
    if (reach === 'same key') return `runs (other ${LOCK_KINDS[asking].key})`;
    return reach ? (asking === 'backup' ? 'skipped' : 'refused') : 'runs';
  };
  return [`| running \\ asking | ${kinds.join(' | ')} |`, `|${'---|'.repeat(kinds.length + 1)}`, ...kinds.map((r) => `| ${r} | ${kinds.map((a) => cell(r, a)).join(' | ')} |`)].join('\n');
}
