import { OFFSITE_REPO } from '../spec/schema';
import { walPosition } from './dropped-wal';
import { currentDb, repoKeys, systemIdOf, type StanzaInfo } from './pgbackrest-info';
import type { ArchiverFacts } from './status';

/**
 * How recent the primary's last archived segment must be for the facts to stand for
 * `pgbackrest check` (which forces a segment out and waits for it in the repository, 3-4 s).
 */
export const RECENT_ARCHIVE_SECONDS = 300;

export type StanzaVerdict = { readonly ok: true; readonly detail: string } | { readonly ok: false; readonly why: string };

// A segment, or a backup's history file (named for the segment its backup started in, with the
// offset): archived last right after a backup, through the same archive_command.
const ARCHIVED = /^([0-9A-F]{24})(\.[0-9A-F]{8}\.backup)?$/;

/**
 * Whether the repository already holds this cluster's stanza in good order: what stanza-create
 * would confirm (pgBackRest's status ok, its current database the primary's system identifier).
 */
export function stanzaServes(stanza: StanzaInfo | undefined, name: string, systemId: string): StanzaVerdict {
  if (!stanza) return { ok: false, why: `the repository has no stanza ${name}` };
  if (stanza.status.code !== 0) return { ok: false, why: `pgBackRest's status of stanza ${name} is "${stanza.status.message}" (code ${stanza.status.code})` };
  const served = systemIdOf(stanza);
  if (served !== systemId) return { ok: false, why: `stanza ${name} serves system identifier ${served ?? 'none'}, the primary is ${systemId}` };
  return { ok: true, detail: `stanza ${name} is ok and serves system identifier ${systemId}` };
}

/**
 * repo2's error when pgBackRest could not read it (its status 99: out of reach, refused, timed out),
 * else undefined. `pgbackrest check` and `stanza-create` work on every repository at once (2.45
 * takes no --repo for them), so while it lasts they fail for repo1 too.
 */
export function offsiteDown(stanza: StanzaInfo | undefined): string | undefined {
  const r = stanza?.repos.find((x) => x.key === OFFSITE_REPO);
  // Out of reach only: a wrong key or bucket (99 as well) must fail stanza-create and check as it is.
  return r !== undefined && r.status.code === 99 && OUT_OF_REACH.test(r.status.message) ? r.status.message : undefined;
}

// What pgBackRest says of a store it cannot reach: refused, unresolvable or silent connections.
const OUT_OF_REACH = /HostConnectError|unable to connect|timeout|timed out|unable to get address/i;

/** A WAL segment's name: timeline, log and segment, 8 hex digits each. */
export const WAL_SEGMENT = /^[0-9A-F]{24}$/;

/** Whether `repo-ls` of an archive directory lists `segment`'s file (its name, a dash, its checksum, a compression extension). */
export function archivedSegmentListed(listing: string, segment: string): boolean {
  return WAL_SEGMENT.test(segment) && listing.split('\n').some((l) => l.trim().startsWith(`${segment}-`));
}

/**
 * Whether the facts already read prove what `pgbackrest check` proves: archive_command delivers
 * this cluster's WAL to this repository. Proven when the last segment PostgreSQL archived (or the
 * segment named by a backup history file archived last) is in the repository (pgBackRest may
 * acknowledge a segment it dropped: pg_stat_archiver alone is not proof), it was archived within
 * RECENT_ARCHIVE_SECONDS of `now` (the primary's clock) and nothing failed since.
 */
export function archivingProven(a: ArchiverFacts, stanza: StanzaInfo | undefined, name: string, systemId: string, now: number): StanzaVerdict {
  const serves = stanzaServes(stanza, name, systemId);
  if (!serves.ok) return serves;
  if (a.archiveMode === 'off') return { ok: false, why: 'archive_mode is off' };
  if (a.lastArchivedWal === null || a.lastArchivedAt === null) return { ok: false, why: 'the primary has archived nothing since its statistics were reset' };
  const segment = ARCHIVED.exec(a.lastArchivedWal)?.[1];
  if (segment === undefined) return { ok: false, why: `the last file archived, ${a.lastArchivedWal}, is not a WAL segment or a backup's history file` };
  if (a.lastFailedAt !== null && a.lastFailedAt >= a.lastArchivedAt) return { ok: false, why: `archiving failed (${a.lastFailedWal}) after its last success` };
  const age = Math.max(0, Math.round(now - a.lastArchivedAt));
  if (age > RECENT_ARCHIVE_SECONDS) return { ok: false, why: `the last segment was archived ${age} s ago, longer than ${RECENT_ARCHIVE_SECONDS} s` };
  const current = stanza!.archive.filter((x) => x.dbId === currentDb(stanza!)?.id);
  // Every repository must hold it: archive-push writes to each, and a check fails when one lacks it.
  const keys = repoKeys(stanza!);
  for (const key of keys) {
    const max = current.filter((x) => (x.repoKey ?? 1) === key).map((x) => x.max).filter((m): m is string => m !== null).sort((x, y) => (walPosition(x) < walPosition(y) ? -1 : 1)).pop();
    if (max === undefined || walPosition(max) < walPosition(segment)) {
      const where = keys.length > 1 ? `repo${key}` : 'the repository';
      return { ok: false, why: `${a.lastArchivedWal}, archived last, is not in ${where} (it holds up to ${max ?? 'nothing'})` };
    }
  }
  return { ok: true, detail: `${serves.detail}; ${a.lastArchivedWal}, archived ${age} s ago with no failure since, is in ${keys.length > 1 ? 'every repository' : 'the repository'}` };
}
