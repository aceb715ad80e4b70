import { nodeHost, primaryNode } from '../spec/roles';
import { OFFSITE_REPO, type Offsite, type Spec, type SpecNode } from '../spec/schema';
import { findSection, getValue, parseIni, renderIni, replaceSection, setValue, type Ini, type IniEntry } from './ini';
import { copyHostTuning, nodeTuning, repositoryTuning, siteKeys, tunedSettings } from './pgbackrest-tuning';
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
  /** Keys of the stanza's `[<stanza>:archive-push]` section; its other keys are left as they are. */
  readonly archivePush?: [string, string][];
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
  if (own.archivePush) {
    const section = findSection(ini, `${stanza}:archive-push`) ?? replaceSection(ini, `${stanza}:archive-push`, []);
    for (const [k, v] of own.archivePush) setValue(section, k, v);
  }
  return renderIni(ini);
}

/** The offsite repository's secrets, resolved on the worker (activities/secrets.ts): never returned, logged or passed to a workflow. */
export interface OffsiteKeys {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly cipherPass?: string;
}

/**
 * repo2's options, in the stanza's own section: two stanzas of one repository host may keep their
 * offsite copies in different buckets. `onRepositoryHost`: retention and bundling, which only
 * backups and expire read, go there alone.
 */
export function offsiteSettings(offsite: Offsite | undefined, keys: OffsiteKeys | undefined, onRepositoryHost: boolean, bundle?: Value): [string, Value][] {
  if (!offsite) return [];
  if (!keys) throw new Error('offsite: its keys were not resolved');
  if (offsite.cipherPass && !keys.cipherPass) throw new Error('offsite.cipherPass was not resolved');
  const r = `repo${OFFSITE_REPO}`;
  const out: [string, Value][] = [
    [`${r}-type`, offsite.type],
    [`${r}-path`, offsite.path],
    [`${r}-s3-bucket`, offsite.bucket],
    [`${r}-s3-endpoint`, offsite.endpoint],
    [`${r}-s3-region`, offsite.region],
  ];
  if (offsite.uriStyle) out.push([`${r}-s3-uri-style`, offsite.uriStyle]);
  if (offsite.port !== undefined) out.push([`${r}-storage-port`, offsite.port]);
  if (offsite.caFile) out.push([`${r}-storage-ca-file`, offsite.caFile]);
  out.push([`${r}-s3-key`, keys.accessKey], [`${r}-s3-key-secret`, keys.secretKey]);
  if (keys.cipherPass) out.push([`${r}-cipher-type`, 'aes-256-cbc'], [`${r}-cipher-pass`, keys.cipherPass]);
  if (onRepositoryHost) {
    out.push([`${r}-retention-full`, offsite.retentionFull]);
    if (bundle !== undefined) out.push([`${r}-bundle`, bundle]);
  }
  return out;
}

/**
 * pgBackRest's io-timeout for the nodes' archive-push, in the stanza's `[<stanza>:archive-push]`
 * section: with repo2 out of reach, each round of the asynchronous archiver waits it out on every
 * request to repo2 before the segment reaches repo1 (below): 82 s measured at 10 s, about 8
 * io-timeouts, so some 8 minutes at pgBackRest's 60 s, past a backup's wait for its last segment. Backups,
 * restores and the repository host keep pgBackRest's own: a slow object store may stall longer
 * than this on a large upload without being gone. `offsite.archiveIoTimeout` sets another.
 */
export const DEFAULT_ARCHIVE_IO_TIMEOUT_SECONDS = 10;

export function archivePushSettings(offsite: Offsite | undefined, stanza: string, fragments: readonly string[]): [string, string][] | undefined {
  // A site's own io-timeout in conf.d, for every command or for archive-push, is the site's choice.
  return offsite && !siteKeys(stanza, fragments).has('io-timeout') ? [['io-timeout', String(offsite.archiveIoTimeout ?? DEFAULT_ARCHIVE_IO_TIMEOUT_SECONDS)]] : undefined;
}

/**
 * With repo2 out of reach, the nodes' asynchronous archive-push still delivers WAL to repo1, but
 * each of its rounds first waits out its io-timeout on every request to repo2 (82 s at
 * DEFAULT_ARCHIVE_IO_TIMEOUT_SECONDS). A backup to repo1 waits for its last segment for
 * archive-timeout (60 s by default) and would fail all through a repo2 outage: 15 minutes outlasts
 * such a round, also at a larger offsite.archiveIoTimeout. The cost: a backup whose archiving is truly broken fails after
 * 15 minutes instead of one. Passed on backup command lines only (host/pgbackrest.ts): `check`
 * keeps pgBackRest's 60 s.
 */
export const OFFSITE_ARCHIVE_TIMEOUT_SECONDS = 900;

// Where pgBackRest keeps a repository when repo1-path is not set.
const DEFAULT_REPO_PATH = '/var/lib/pgbackrest';

// Keys the spec decides through its own fields: an `options` entry naming one would contradict it.
const derivedKey = /^(repo1-path|repo1-retention-full|repo1-host|repo1-host-user|backup-standby|pg\d+-[a-z-]+)$/;

/** pgbackrest.conf on the repository host, which has `cores` cores. */
export function repoHostConf(existing: string | undefined, spec: Spec, cores: number, fragments: readonly string[] = [], everyNode = true, keys?: OffsiteKeys): string {
  return mergeConf(existing, spec.stanza, repoHostSettings(existing, spec, cores, fragments, everyNode, keys));
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
export function repoHostSettings(existing: string | undefined, spec: Spec, cores: number, fragments: readonly string[] = [], everyNode = true, keys?: OffsiteKeys): ConfSettings {
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
  const tuned = tunedSettings(repositoryTuning(spec, cores), spec.stanza, fragments);
  // repo2 bundles as repo1 does: on object storage, fewer and larger objects matter more still.
  stanza.push(...offsiteSettings(spec.offsite, keys, true, tuned.find(([k]) => k === 'repo1-bundle')?.[1]));
  return settings(
    [
      // An existing spelling of the same directory (`/backup_space/`) is left as written.
      ['repo1-path', written !== undefined && samePath(written, spec.repository.path) ? written : spec.repository.path],
      ['log-level-console', 'info'],
      ['log-level-file', 'detail'],
      ['start-fast', true],
      ['delta', true],
      ...tuned,
      ...options,
    ],
    stanza,
  );
}

/** pgbackrest.conf on a PostgreSQL node (primary or standby) that has `cores` cores. */
export function nodeConf(existing: string | undefined, spec: Spec, node: SpecNode, cores: number, fragments: readonly string[] = [], keys?: OffsiteKeys): string {
  return mergeConf(existing, spec.stanza, nodeSettings(existing, spec, node, cores, fragments, keys));
}

/** What a node's file must say; refuses to cut other stanzas on the node (main file or fragments) off their repository. */
export function nodeSettings(existing: string | undefined, spec: Spec, node: SpecNode, cores: number, fragments: readonly string[] = [], keys?: OffsiteKeys): ConfSettings {
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
  // The nodes push WAL to repo2 and restore from it themselves, not through the repository host.
  stanza.push(...offsiteSettings(spec.offsite, keys, false));
  const archivePush = archivePushSettings(spec.offsite, spec.stanza, fragments);
  return { ...clientSettings(existing, spec, fragments, stanza, tunedSettings(nodeTuning(spec, cores), spec.stanza, fragments)), ...(archivePush && { archivePush }) };
}

/**
 * What the file must say on a host that is no node but restores copies of the stanza's cluster:
 * the repository only. Each copy's data directory and port go on the restore's command line, so
 * copies in several directories share the file.
 */
export function copyHostSettings(existing: string | undefined, spec: Spec, cores: number, fragments: readonly string[] = [], keys?: OffsiteKeys): ConfSettings {
  return clientSettings(existing, spec, fragments, offsiteSettings(spec.offsite, keys, false), tunedSettings(copyHostTuning(spec, cores), spec.stanza, fragments));
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
