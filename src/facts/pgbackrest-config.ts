import { parseIni } from '../render/ini';
import { shownValue } from '../spec/secret-options';

/**
 * Which configuration pgBackRest 2.45 really reads on a host (src/config/parse.c, cfgFileLoad):
 * without --config/--config-path on the command line or in the environment it opens
 * /etc/pgbackrest/pgbackrest.conf, and only when that is missing the original default
 * /etc/pgbackrest.conf; then every `*.conf` in /etc/pgbackrest/conf.d is appended. All of it is
 * parsed as one file, so the same option twice in one section fails ("cannot be set multiple
 * times"), and for a stanza `[stanza:command]` beats `[stanza]` beats `[global:command]` beats
 * `[global]`, whichever file the section is in. `config`, `config-path` and `config-include-path`
 * are command-line options: in a file pgBackRest warns and ignores them.
 */
export const CONFIG_PATHS = ['/etc/pgbackrest/pgbackrest.conf', '/etc/pgbackrest.conf'] as const;
export const CONFIG_INCLUDE_PATH = '/etc/pgbackrest/conf.d';

export type PathKind = 'file' | 'symlink' | 'absent' | 'other';

/** One candidate as `CONFIG_FACTS` prints it. */
export interface ConfigPathFact {
  readonly path: string;
  readonly kind: PathKind;
  /** The file a symlink ends at; absent when it dangles. */
  readonly target?: string;
  /** Owner (name) and octal mode of every directory root writes in to replace the file. */
  readonly dirs: { readonly dir: string; readonly owner: string; readonly mode: string }[];
}

/** Parses scripts/config-facts.sh (activities): one tab-separated line per candidate path. */
export function parseConfigFacts(out: string): ConfigPathFact[] {
  return out.split('\n').filter(Boolean).map((line) => {
    const [path, kind, target, ...dirs] = line.split('\t');
    return {
      path,
      kind: kind as PathKind,
      ...(target ? { target } : {}),
      dirs: dirs.map((d) => {
        const [mode, owner, ...dir] = d.split(':').reverse();
        return { dir: dir.reverse().join(':'), owner, mode };
      }),
    };
  });
}

export interface ConfigChoice {
  /** The file pgBackRest opens. */
  readonly path: string;
  /** The file to read and replace: `path`, or the file its symlink ends at. */
  readonly write: string;
  /** A candidate that exists but that pgBackRest does not read. */
  readonly ignored?: string;
}

/** The configuration is somewhere root must not write, or pgBackRest cannot read it. */
export class ConfigPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigPathError';
  }
}

const readable = (f: ConfigPathFact) => f.kind === 'file' || (f.kind === 'symlink' && f.target !== undefined);

/**
 * The file stanzactl must merge its settings into on `host`, from `CONFIG_FACTS`. With neither
 * file present it creates the original default, as the Debian package ships it.
 */
export function chooseConfigFile(host: string, facts: ConfigPathFact[]): ConfigChoice {
  const [guide, orig] = CONFIG_PATHS.map((p) => facts.find((f) => f.path === p) ?? { path: p, kind: 'absent' as const, dirs: [] });
  if (guide.kind === 'other') throw new ConfigPathError(`${host}:${guide.path} exists but is not a file; pgBackRest cannot read it. Remove it or make it the configuration file`);
  // A dangling symlink is "missing" to pgBackRest, which then falls back to the original default.
  const chosen = readable(guide) ? guide : orig;
  if (chosen.kind === 'other') throw new ConfigPathError(`${host}:${chosen.path} exists but is not a file; pgBackRest cannot read it`);
  const write = chosen.kind === 'symlink' && chosen.target ? chosen.target : chosen.path;
  // Root replaces the file with a new one in its directory: a directory another account controls
  // would let that account swap the file (or the symlink's end) under root.
  for (const d of chosen.dirs) {
    if (d.owner !== 'root' || (parseInt(d.mode, 8) & 0o022) !== 0) {
      throw new ConfigPathError(
        `${host}:${d.dir} (holding ${write}) belongs to ${d.owner} with mode ${d.mode}; stanzactl writes pgBackRest's configuration as root ` +
          'only in a directory that root owns and nobody else can write. Fix its owner or mode',
      );
    }
  }
  const ignored = chosen === guide && readable(orig) ? orig.path : undefined;
  return { path: chosen.path, write, ...(ignored ? { ignored } : {}) };
}

const COMMAND_LINE_ONLY = ['config', 'config-path', 'config-include-path'];

/** Options a file sets that pgBackRest takes from the command line or environment only (it warns and ignores them). */
export function commandLineOnly(text: string | undefined): string[] {
  const keys = parseIni(text ?? '').sections.flatMap((s) => s.entries.map((e) => e[0]));
  return COMMAND_LINE_ONLY.filter((k) => keys.includes(k));
}

/** Human summary for preflight: the file read, and what pgBackRest ignores. */
export function describeChoice(host: string, c: ConfigChoice, ignoredOptions: readonly string[] = []): string {
  const via = c.write !== c.path ? ` (a symlink to ${c.write})` : '';
  const options = ignoredOptions.length > 0 ? ` (which sets ${ignoredOptions.join(', ')}: ignored by pgBackRest, a command-line option)` : '';
  return `${host} reads ${c.path}${via}${options}${c.ignored ? `; ${c.ignored} is ignored by pgBackRest there` : ''}`;
}

export interface Fragment {
  readonly path: string;
  readonly text: string;
}

/** Parses scripts/read-fragments.sh (activities): name NUL text NUL, in pgBackRest's order. */
export function parseFragments(out: string): Fragment[] {
  const parts = out.split('\0');
  const fragments: Fragment[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) fragments.push({ path: parts[i], text: parts[i + 1] });
  return fragments;
}

/** What stanzactl writes into the main file: keys of [global] and of the stanza's section. */
export interface OwnSettings {
  readonly global: readonly (readonly [string, string])[];
  readonly stanza: readonly (readonly [string, string])[];
}

/**
 * The settings of stanzactl that a fragment contradicts: set again in the same section (pgBackRest
 * then refuses to run) or, with another value, in a section that wins for this stanza (pgBackRest
 * then silently uses the fragment's). One message per clash, naming fragment, section and key,
 * and the values unless the option is a secret (spec/secret-options.ts): the message becomes a
 * workflow failure, shown by the CLI and the UI and kept in history.
 */
export function fragmentConflicts(host: string, mainPath: string, stanza: string, own: OwnSettings, fragments: readonly Fragment[]): string[] {
  // Lower wins: [stanza:cmd] 0, [stanza] 1, [global:cmd] 2, [global] 3.
  const rank = (section: string): number | undefined => {
    const [name, command] = section.split(':');
    if (name !== stanza && name !== 'global') return undefined;
    return (name === stanza ? 0 : 2) + (command === undefined ? 1 : 0);
  };
  const ours = new Map<string, { value: string; rank: number; section: string }>();
  for (const [k, v] of own.global) ours.set(k, { value: v, rank: 3, section: 'global' });
  for (const [k, v] of own.stanza) ours.set(k, { value: v, rank: 1, section: stanza });
  const out: string[] = [];
  for (const f of fragments) {
    for (const section of parseIni(f.text).sections) {
      const r = rank(section.name);
      if (r === undefined) continue;
      for (const [key, value] of section.entries) {
        const mine = key === '' ? undefined : ours.get(key);
        if (!mine || r > mine.rank) continue;
        const where = `${host}:${f.path} sets ${key}=${shownValue(key, value)} in [${section.name}]`;
        if (r === mine.rank) {
          out.push(`${where}, and stanzactl sets ${key} in [${mine.section}] of ${mainPath}: pgBackRest refuses an option set twice in one section. Remove it from the fragment`);
        } else if (value !== mine.value) {
          out.push(`${where}, which overrides stanzactl's ${key}=${shownValue(key, mine.value)} in [${mine.section}] of ${mainPath} for stanza ${stanza}. Remove it from the fragment or change the spec to match`);
        }
      }
    }
  }
  return out;
}
