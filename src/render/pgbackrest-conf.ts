import { nodeHost, primaryNode } from '../spec/roles';
import type { Spec, SpecNode } from '../spec/schema';
import { findSection, getValue, parseIni, renderIni, replaceSection, setValue, type Ini, type IniEntry } from './ini';
import { copyHostTuning, nodeTuning, repositoryTuning, tunedSettings } from './pgbackrest-tuning';
import { primaryConninfo } from './recovery';

/** The file on a host already says something we must not overwrite; a human has to decide (the caller names host and file). */
export class ConfigConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigConflictError';
  }
}

type Value = string | number | boolean;

function iniValue(v: Value): string {
  return typeof v === 'boolean' ? (v ? 'y' : 'n') : String(v);
}

function samePath(a: string, b: string): boolean {
  const norm = (p: string) => p.replace(/\/+$/, '') || '/';
  return norm(a) === norm(b);
}

/** Other stanzas named in the files; `[name:command]` sections count for their stanza. */
function otherStanzas(ini: Ini, stanza: string): string[] {
  const names = ini.sections.map((s) => s.name.split(':')[0]);
  return [...new Set(names)].filter((n) => n !== '' && n !== 'global' && n !== stanza);
}

/** The main file and the conf.d fragments pgBackRest appends to it, read as the one file it parses. */
function everything(existing: string | undefined, fragments: readonly string[]): Ini {
  return parseIni([existing ?? '', ...fragments].join('\n'));
}

/** The keys stanzactl owns in [global] and in the stanza's section, as written to the file. */
export interface ConfSettings {
  readonly global: [string, string][];
  readonly stanza: [string, string][];
}

/** `global` is applied in order, so later keys (user options) override earlier ones (defaults). */
function settings(global: [string, Value][], stanza: [string, Value][]): ConfSettings {
  const wanted = new Map<string, string>();
  for (const [k, v] of global) wanted.set(k, iniValue(v));
  return { global: [...wanted], stanza: stanza.map(([k, v]) => [k, iniValue(v)]) };
}

/** Writes our keys into [global] and our stanza section, leaving every other line as it was. */
export function mergeConf(existing: string | undefined, stanza: string, own: ConfSettings): string {
  const ini = parseIni(existing ?? '');
  const g = findSection(ini, 'global') ?? replaceSection(ini, 'global', [], true);
  for (const [k, v] of own.global) setValue(g, k, v);
  replaceSection(ini, stanza, own.stanza.map(([k, v]): IniEntry => [k, v]));
  return renderIni(ini);
}

// Where pgBackRest keeps a repository when repo1-path is not set.
const DEFAULT_REPO_PATH = '/var/lib/pgbackrest';

// Keys the spec decides through its own fields: an `options` entry naming one would contradict it.
const derivedKey = /^(repo1-path|repo1-retention-full|repo1-host|repo1-host-user|backup-standby|pg\d+-[a-z-]+)$/;

/** pgbackrest.conf on the repository host, which has `cores` cores. */
export function repoHostConf(existing: string | undefined, spec: Spec, cores: number, fragments: readonly string[] = [], everyNode = true): string {
  return mergeConf(existing, spec.stanza, repoHostSettings(existing, spec, cores, fragments, everyNode));
}

/**
 * What the repository host's file must say; refuses what would harm other stanzas, whether the
 * main file or a conf.d fragment (`fragments`, their texts) names them. Only the repository host
 * gets `repository.options`: with the repository there, pgBackRest on the nodes reaches it through
 * the repository host, which encrypts and decrypts, so a cipher pass is needed (and kept) there only.
 * `everyNode`: every node in the spec's order, whatever its role, so that pgBackRest finds the
 * primary itself after a switchover or failover (a node it cannot reach is a warning to it); else
 * the primary alone (a cluster whose standbys are not built yet).
 */
export function repoHostSettings(existing: string | undefined, spec: Spec, cores: number, fragments: readonly string[] = [], everyNode = true): ConfSettings {
  const ini = parseIni(existing ?? '');
  const all = everything(existing, fragments);
  const written = getValue(findSection(ini, 'global'), 'repo1-path');
  // Stanzas without a repo1-path of their own keep their backups where [global] says, or in pgBackRest's default.
  const ownPath = (n: string) => all.sections.some((s) => s.name === n && getValue(s, 'repo1-path') !== undefined);
  const dependents = otherStanzas(all, spec.stanza).filter((n) => !ownPath(n));
  // A path no other stanza depends on (the package's default conf) is simply replaced.
  const current = written ?? DEFAULT_REPO_PATH;
  if (dependents.length > 0 && !samePath(current, spec.repository.path)) {
    throw new ConfigConflictError(
      `${written === undefined ? 'uses the default' : 'already has'} repo1-path=${current}, ` +
        `the spec says ${spec.repository.path}. ` +
        `Changing it would orphan the backups and WAL of stanza(s) ${dependents.join(', ')} kept there. ` +
        'Set repository.path to the existing path, or move the repository by hand first.',
    );
  }
  const options = Object.entries(spec.repository.options ?? {}).map(([k, v]): [string, Value] => {
    // References are resolved by the activity (withResolvedRepositoryOptions); rendering one as text would lose the secret.
    if (typeof v === 'object') throw new Error(`repository.options.${k} is a secret reference that was not resolved`);
    return [k, v];
  });
  const clash = options.find(([k]) => derivedKey.test(k));
  if (clash) {
    throw new ConfigConflictError(`repository.options.${clash[0]} is set from other spec fields; remove it from options`);
  }
  const pg = spec.postgres;
  const listed = everyNode ? spec.nodes : [primaryNode(spec)];
  // Retention is the stanza's own: in [global] it would be every other stanza's of this repository too.
  const stanza: [string, Value][] = [['repo1-retention-full', spec.repository.retentionFull]];
  listed.forEach((n, i) => {
    const p = `pg${i + 1}`;
    stanza.push([`${p}-host`, nodeHost(n)], [`${p}-host-user`, pg.osUser], [`${p}-path`, pg.dataDir], [`${p}-port`, pg.port]);
  });
  // With "prefer", stanzactl passes --[no-]backup-standby on each run.
  if (listed.length > 1 && spec.backups?.fromStandby === true) stanza.push(['backup-standby', true]);
  return settings(
    [
      // An existing spelling of the same directory (`/backup_space/`) is left as written.
      ['repo1-path', written !== undefined && samePath(written, spec.repository.path) ? written : spec.repository.path],
      ['log-level-console', 'info'],
      ['log-level-file', 'detail'],
      ['start-fast', true],
      ['delta', true],
      ...tunedSettings(repositoryTuning(spec, cores), spec.stanza, fragments),
      ...options,
    ],
    stanza,
  );
}

/** pgbackrest.conf on a PostgreSQL node (primary or standby) that has `cores` cores. */
export function nodeConf(existing: string | undefined, spec: Spec, node: SpecNode, cores: number, fragments: readonly string[] = []): string {
  return mergeConf(existing, spec.stanza, nodeSettings(existing, spec, node, cores, fragments));
}

/** What a node's file must say; refuses to cut other stanzas on the node (main file or fragments) off their repository. */
export function nodeSettings(existing: string | undefined, spec: Spec, node: SpecNode, cores: number, fragments: readonly string[] = []): ConfSettings {
  const pg = spec.postgres;
  const stanza: [string, Value][] = [
    ['pg1-path', pg.dataDir],
    ['pg1-user', pg.osUser],
    ['pg1-port', pg.port],
  ];
  if (node.role === 'standby') {
    const conninfo = primaryConninfo({
      host: nodeHost(primaryNode(spec)),
      port: pg.port,
      user: spec.replication.user,
      applicationName: node.name,
    });
    stanza.push(['recovery-option', `primary_conninfo=${conninfo}`]);
  }
  return clientSettings(existing, spec, fragments, stanza, tunedSettings(nodeTuning(spec, cores), spec.stanza, fragments));
}

/**
 * What the file must say on a host that is no node but restores copies of the stanza's cluster:
 * the repository only. Each copy's data directory and port go on the restore's command line, so
 * copies in several directories share the file.
 */
export function copyHostSettings(existing: string | undefined, spec: Spec, cores: number, fragments: readonly string[] = []): ConfSettings {
  return clientSettings(existing, spec, fragments, [], tunedSettings(copyHostTuning(spec, cores), spec.stanza, fragments));
}

/** A host that reaches the repository through the repository host, with `stanza` for its own section and `tuned` its speed settings. */
function clientSettings(existing: string | undefined, spec: Spec, fragments: readonly string[], stanza: [string, Value][], tuned: [string, Value][]): ConfSettings {
  const current = getValue(findSection(parseIni(existing ?? ''), 'global'), 'repo1-host');
  const others = otherStanzas(everything(existing, fragments), spec.stanza);
  // With no other stanza on the host, pointing it at the spec's repository is simply the change asked for.
  if (current !== undefined && current !== spec.repository.host && others.length > 0) {
    throw new ConfigConflictError(
      `sends stanza(s) ${others.join(', ')} to repository host ${current}, ` +
        `the spec says ${spec.repository.host}. Changing repo1-host would cut their archiving off; ` +
        'use the same repository host, or move those stanzas first.',
    );
  }
  return settings(
    [
      ['repo1-host', spec.repository.host],
      ['repo1-host-user', spec.repository.user],
      // The package's default repo1-path would otherwise name a directory on the wrong side.
      ['repo1-path', spec.repository.path],
      ['log-level-console', 'info'],
      ['log-level-file', 'detail'],
      ['delta', true],
      ...tuned,
    ],
    stanza,
  );
}
