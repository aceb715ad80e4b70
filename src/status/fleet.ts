import { formatAge } from './age';
import { bytes, table, type StatusReport } from './render';

/** How a stanza of a fleet stands, worst first: a status that could not be read says nothing is well. */
export const VERDICTS = ['unreadable', 'broken', 'ok'] as const;
export type Verdict = (typeof VERDICTS)[number];

interface Stanza {
  readonly stanza: string;
  readonly repositoryHost: string;
  /** The spec file it was read with. */
  readonly file: string;
}

/** One stanza's status read: its report, or why there is none (no worker, timeout, server unreachable). */
export type FleetRead = Stanza & ({ readonly report: StatusReport } | { readonly error: string });

/** A stanza as `status --specs DIR --json` prints it. */
export interface FleetEntry extends Stanza {
  readonly verdict: Verdict;
  /** Why the status could not be read; null when it was. */
  readonly error: string | null;
  /** What `status --spec FILE --json` prints for the stanza; null when its status could not be read. */
  readonly report: StatusReport | null;
}

/** What `status --specs DIR --json` prints: `ok` only when every stanza is. */
export interface FleetReport {
  readonly ok: boolean;
  readonly counts: { readonly stanzas: number } & Record<Verdict, number>;
  readonly stanzas: FleetEntry[];
}

function entry(r: FleetRead): FleetEntry {
  const { stanza, repositoryHost, file } = r;
  if ('error' in r) return { stanza, repositoryHost, file, verdict: 'unreadable', error: r.error, report: null };
  return { stanza, repositoryHost, file, verdict: r.report.ok ? 'ok' : 'broken', error: null, report: r.report };
}

const order = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Unreadable, then broken, then ok; by stanza within each (then repository host and file, for one order always). */
export function worstFirst(a: FleetEntry, b: FleetEntry): number {
  return VERDICTS.indexOf(a.verdict) - VERDICTS.indexOf(b.verdict) || order(a.stanza, b.stanza) || order(a.repositoryHost, b.repositoryHost) || order(a.file, b.file);
}

/** Pure: the reads in any order (they end as they end), the fleet's report out. */
export function fleetReport(reads: readonly FleetRead[]): FleetReport {
  const stanzas = reads.map(entry).sort(worstFirst);
  const count = (v: Verdict) => stanzas.filter((e) => e.verdict === v).length;
  return {
    ok: stanzas.every((e) => e.verdict === 'ok'),
    counts: { stanzas: stanzas.length, unreadable: count('unreadable'), broken: count('broken'), ok: count('ok') },
    stanzas,
  };
}

const COLUMNS = ['STANZA', 'REPOSITORY', 'FULL BACKUP', 'AGE', 'ARCHIVING', 'STANDBYS', 'WORST LAG', 'LAST DRILL', 'VERDICT'];

/** The newest full backup's label and age; `?` when the repository could not be read. */
function newestFull(r: StatusReport): [string, string] {
  if (r.repository.error !== undefined) return ['?', '?'];
  const full = r.backups.filter((b) => b.type === 'full').reduce<StatusReport['backups'][number] | undefined>((best, b) => (best === undefined || b.stoppedAt > best.stoppedAt ? b : best), undefined);
  return full ? [full.label, formatAge(full.ageSeconds)] : ['none', '-'];
}

function archiving(a: StatusReport['archive']): string {
  if (a.error !== undefined) return '?';
  if (a.mode === 'off') return 'OFF';
  return a.failing ? 'FAILING' : 'ok';
}

/**
 * Streaming of all standbys, and the worst replay lag in bytes as the primary sees it (the
 * standby's own replay delay grows on an idle primary, so it cannot rank standbys).
 */
function standbys(r: StatusReport): [string, string] {
  if (r.standbys.length === 0) return ['-', '-'];
  const streaming = r.standbys.filter((s) => s.state === 'streaming').length;
  const lags = r.standbys.flatMap((s) => (s.primaryView?.lagBytes === undefined ? [] : [{ node: s.name, bytes: s.primaryView.lagBytes }]));
  const worst = lags.reduce<(typeof lags)[number] | undefined>((w, l) => (w === undefined || l.bytes > w.bytes ? l : w), undefined);
  const lag = worst === undefined ? '-' : worst.bytes === 0 ? '0 B' : `${bytes(worst.bytes)} (${worst.node})`;
  return [`${streaming}/${r.standbys.length}`, lag];
}

function lastDrill(d: StatusReport['drill']): string {
  if (d === null) return '-';
  if (d.error !== undefined) return '?';
  if (d.last === null) return 'none';
  return `${d.last.ok ? 'passed' : 'FAILED'} ${formatAge(d.last.ageSeconds)} ago`;
}

/** A reason from a host or the server may span lines; a table row may not. */
const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ');

function verdict(r: StatusReport): string {
  if (r.ok) return 'ok';
  const more = r.problems.length - 1;
  return oneLine(`BROKEN: ${r.problems[0] ?? 'not ok'}${more > 0 ? ` (+${more} more)` : ''}`);
}

function row(e: FleetEntry): string[] {
  const who = [e.stanza, e.repositoryHost];
  if (e.report === null) return [...who, '?', '?', '?', '?', '?', '?', oneLine(`UNREADABLE: ${e.error}`)];
  const r = e.report;
  return [...who, ...newestFull(r), archiving(r.archive), ...standbys(r), lastDrill(r.drill), verdict(r)];
}

const RED = '\x1b[31m';
const RESET = '\x1b[0m';

/** Colour only for a person at a terminal who has not asked for none (https://no-color.org). */
export function useColour(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  return isTTY === true && !env.NO_COLOR;
}

/** The human view: a summary line, then one line per stanza in the report's order; lines not ok in red with `colour`. */
export function renderFleet(r: FleetReport, colour: boolean): string[] {
  const c = r.counts;
  const summary = `${c.stanzas} stanza${c.stanzas === 1 ? '' : 's'}: ${c.ok} ok, ${c.broken} broken, ${c.unreadable} unreadable`;
  const [header, ...lines] = table([COLUMNS, ...r.stanzas.map(row)]);
  const paint = (line: string, e: FleetEntry) => (colour && e.verdict !== 'ok' ? `${RED}${line}${RESET}` : line);
  return [summary, header, ...lines.map((l, i) => paint(l, r.stanzas[i]))];
}
