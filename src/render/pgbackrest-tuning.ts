import { TUNING_KEYS, type PgbackrestTuning, type Spec } from '../spec/schema';
import { parseIni } from './ini';

/** pgBackRest's default spool path; the "pgBackRest dirs" step makes it for the user that runs pgBackRest. */
export const DEFAULT_SPOOL_PATH = '/var/spool/pgbackrest';

/**
 * No more processes than this by default, however many cores. A backup runs on the repository
 * host and each of its processes opens its own SSH connection and pgBackRest protocol to the
 * PostgreSQL host and reads that host's disk: past about four, one disk and the primary's CPU (it
 * compresses; the repository host only stores) are the limit, the backup steals more from
 * production than it gains, and sshd's MaxStartups (10 unauthenticated connections) comes near.
 */
export const PROCESS_MAX_CAP = 4;

/**
 * stanzactl's defaults, chosen for speed without risking the archive:
 * - zst compresses about as small as gz at a fraction of its CPU (pgBackRest's zst level is 3);
 * - repo1-bundle: files under 2 MiB (most of a cluster's, by count) travel and land in the
 *   repository in bundles, one request and one file per bundle instead of one per file; the cost:
 *   an interrupted backup cannot reuse bundled files when resumed, and a single file is harder to
 *   pick out of the repository by hand;
 * - asynchronous archiving pushes WAL in batches over one connection, and with process-max in
 *   parallel, instead of one SSH round trip per segment inside archive_command;
 * - archive-push-queue-max 4GiB: with the repository unreachable, WAL collects in pg_wal until
 *   PostgreSQL stops on a full disk. Past this much pgBackRest drops it instead (and reports
 *   success), which keeps the primary up but breaks the archive chain: point-in-time recovery
 *   cannot cross the gap until the next backup, and `stanzactl status` says so. 4 GiB is 256
 *   segments: an hour of a steady 1 MB/s of WAL to get the repository back, small beside a
 *   pg_wal volume sized for production (max_wal_size is 1 GB by default);
 * - archive-get-queue-max 1GiB: a standby replaying from the archive (catching up, being
 *   rebuilt) prefetches 64 segments in parallel instead of fetching them one at a time.
 */
export const TUNING_DEFAULTS = {
  compressType: 'zst',
  bundle: true,
  archiveAsync: true,
  archivePushQueueMax: '4GiB',
  archiveGetQueueMax: '1GiB',
} as const satisfies PgbackrestTuning;

type Value = string | number | boolean;
/** A tuning field and its default (undefined: written only when the spec sets it). */
type Entry = [keyof PgbackrestTuning, Value | undefined];

/** Settings for one host, split by who decided them: only defaults give way to a site's conf.d. */
export interface Tuned {
  readonly fromSpec: [string, Value][];
  readonly defaults: [string, Value][];
}

/** One process per core, up to PROCESS_MAX_CAP. */
export function defaultProcessMax(cores: number): number {
  return Math.max(1, Math.min(cores, PROCESS_MAX_CAP));
}

function split(tuning: PgbackrestTuning | undefined, entries: Entry[]): Tuned {
  const out: Tuned = { fromSpec: [], defaults: [] };
  for (const [field, fallback] of entries) {
    const key = TUNING_KEYS[field];
    const given = tuning?.[field];
    if (given !== undefined) out.fromSpec.push([key, given]);
    else if (fallback !== undefined) out.defaults.push([key, fallback]);
  }
  return out;
}

// Compression and parallelism matter on every host: compress-level is written only when the spec sets it.
const everyHost = (cores: number): Entry[] => [
  ['compressType', TUNING_DEFAULTS.compressType],
  ['compressLevel', undefined],
  ['processMax', defaultProcessMax(cores)],
];

/**
 * The repository host runs backups (process-max from its cores; the nodes compress under its
 * compress-type, which it passes to them; bundling is the repository's) and expire. It pushes and
 * gets no WAL: no archive settings.
 */
export function repositoryTuning(spec: Spec, cores: number): Tuned {
  return split(spec.pgbackrest, [...everyHost(cores), ['bundle', TUNING_DEFAULTS.bundle]]);
}

/**
 * A PostgreSQL node pushes WAL (primary) and gets it (standbys, restores), compressing with its own
 * compress-type, and runs restores: process-max from its own cores serves those and the
 * asynchronous archiver. Every node gets the same settings: a standby may be promoted.
 */
export function nodeTuning(spec: Spec, cores: number): Tuned {
  return split(spec.pgbackrest, [
    ...everyHost(cores),
    ['archiveAsync', TUNING_DEFAULTS.archiveAsync],
    ['spoolPath', DEFAULT_SPOOL_PATH],
    ['archivePushQueueMax', TUNING_DEFAULTS.archivePushQueueMax],
    ['archiveGetQueueMax', TUNING_DEFAULTS.archiveGetQueueMax],
  ]);
}

/**
 * A host that restores copies of the cluster (restores, drills): compression and process-max for
 * the restore; no asynchronous archiving, since a copy archives nothing and gets WAL one run at a time.
 */
export function copyHostTuning(spec: Spec, cores: number): Tuned {
  return split(spec.pgbackrest, everyHost(cores));
}

/** Where the nodes spool WAL for asynchronous archiving. */
export function spoolPath(spec: Spec): string {
  return spec.pgbackrest?.spoolPath ?? DEFAULT_SPOOL_PATH;
}

/**
 * The keys conf.d fragments set for this stanza (in [global], [stanza] or a command section of
 * either): the site's choice, left to the fragment; writing ours too would make pgBackRest refuse
 * the option set twice, or be overridden anyway.
 */
export function siteKeys(stanza: string, fragments: readonly string[]): Set<string> {
  const keys = new Set<string>();
  for (const section of parseIni(fragments.join('\n')).sections) {
    const name = section.name.split(':')[0];
    if (name !== 'global' && name !== stanza) continue;
    for (const [key] of section.entries) if (key !== '') keys.add(key);
  }
  return keys;
}

/** The tuned settings to write: the defaults a fragment does not set (siteKeys), and the spec's own. */
export function tunedSettings(tuned: Tuned, stanza: string, fragments: readonly string[]): [string, Value][] {
  const site = siteKeys(stanza, fragments);
  return [...tuned.defaults.filter(([k]) => !site.has(k)), ...tuned.fromSpec];
}
