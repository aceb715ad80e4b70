import { Context } from '@temporalio/activity';
import { asUser, cmd, withStdin } from '../shell/command';
import { drillRecordProblem, nextRecord, nextWalSegment, parseDrillRecord, parseVerifyOutput, rpoSeconds, type DrillCheck, type DrillFacts, type DrillResult } from '../facts/drill';
import { CHECK_ROLE, CHECK_TIMEOUT_MS, CONFINED, drillCheckCommand, drillCheckOutcome, drillChecksSetupSql } from '../render/drill-checks';
import { psqlScriptCommand, statusCommand } from '../render/postgres-control';
import { controlServer } from './postgres-service';
import { quoteLiteral } from '../render/sql';
import { DRILL_WORKFLOW } from '../schedules/plan';
import { primaryNode } from '../spec/roles';
import type { DrillSettings, RepoIndex, Spec } from '../spec/schema';
import { query } from './cluster-state';
import { runDetached } from '../host/detached-run';
import { refuse } from '../host/failures';
import { nodeAddress, repoHost } from './hosts';
import { reportProgress } from '../host/heartbeat';
import { checkedCopy } from './restore-copy';
import { drillsPlace } from '../spec/restore-copy';
import type { HostOps } from '../host/host-ops';
import { pgbackrestCommand, repoArgs, repoPart } from '../host/pgbackrest';
import type { HostAddress } from '../remote/types';
import type { StepResult } from './types';

/** The spec's drill settings; the workflow refuses a spec without them before any activity runs. */
function drillSettings(spec: Spec): DrillSettings {
  if (!spec.drills) throw refuse(`stanza ${spec.stanza} has no drills: section: nowhere to restore a drill`, 'InvalidSpec');
  return spec.drills;
}

/** The drill's copy as the copy activities judge it (restore-copy.ts checkedCopy): these activities run SQL and stop a server there. */
function drillCopy(ops: HostOps, spec: Spec): Promise<{ host: HostAddress; pg: Spec['postgres'] }> {
  const d = drillSettings(spec);
  return checkedCopy(ops, spec, drillsPlace(d));
}

export interface DrillMarker extends StepResult {
  readonly id: string;
  /** When the marker was written, on the primary's clock (epoch seconds): the drill's start for RPO. */
  readonly writtenAt: number;
  /** The segment pg_switch_wal() closed: it holds the marker. */
  readonly walFile: string;
  /** Whether that segment reached the archive before the wait ended. */
  readonly archived: boolean;
}

// Our own schema and table, as the rebuild marker: nothing of the user's is read or written.
// One round trip: the row's time, and whether this call inserted it (a retry finds it and keeps its
// time). The outer SELECT does not see the CTE's insert, hence the coalesce.
const DRILL_MARKER_SQL = (id: string) => `CREATE SCHEMA IF NOT EXISTS stanzactl;
CREATE TABLE IF NOT EXISTS stanzactl.drill_marker (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT clock_timestamp());
WITH inserted AS (INSERT INTO stanzactl.drill_marker (id) VALUES (${quoteLiteral(id)}) ON CONFLICT (id) DO NOTHING RETURNING written_at)
SELECT extract(epoch FROM coalesce((SELECT written_at FROM inserted), (SELECT written_at FROM stanzactl.drill_marker WHERE id = ${quoteLiteral(id)}))),
  EXISTS (SELECT 1 FROM inserted);`;

const ARCHIVED_SQL = (walFile: string) => `SELECT coalesce(last_archived_wal >= ${quoteLiteral(walFile)}, false) FROM pg_stat_archiver`;

/** How long the marker's segment may take to reach the archive before the drill restores anyway (and then reports the gap). */
const ARCHIVE_WAIT_MS = 60_000;

/**
 * Writes a row on the primary at drill start and closes its WAL segment, then waits (up to a minute)
 * until archiving has shipped it: the copy must recover this row when the archive is whole, and RPO
 * is measured against its time. A retry finds the row and keeps its time.
 */
export async function writeDrillMarker(ops: HostOps, spec: Spec, id: string): Promise<DrillMarker> {
  const ctx = Context.current();
  const primary = nodeAddress(primaryNode(spec));
  const [epoch, inserted] = (await query(ops, primary, spec.postgres, DRILL_MARKER_SQL(id))).split('\t');
  const writtenAt = Number(epoch);
  const walFile = await query(ops, primary, spec.postgres, 'SELECT pg_walfile_name(pg_switch_wal())');
  const deadline = Date.now() + ARCHIVE_WAIT_MS;
  let archived = false;
  while (!(archived = (await query(ops, primary, spec.postgres, ARCHIVED_SQL(walFile))) === 't') && Date.now() < deadline) {
    reportProgress({ marker: id, waitingForArchive: walFile });
    await ctx.sleep(500);
  }
  const where = archived ? `${walFile} archived` : `${walFile} NOT archived after ${ARCHIVE_WAIT_MS / 1000} s`;
  return { changed: inserted === 't', id, writtenAt, walFile, archived, detail: `marker ${id} on ${primaryNode(spec).name}, ${where}` };
}

export interface CopyFacts {
  readonly dataChecksums: boolean;
  /** See facts/drill.ts rpoSeconds; null when the copy replayed no transaction. */
  readonly rpoSeconds: number | null;
  readonly checks: DrillCheck[];
}

function failureText(e: unknown): string {
  const out = (e as { outputTail?: string }).outputTail;
  return (out && out.trim() ? out : e instanceof Error ? e.message : String(e)).trim().split('\n').slice(-5).join(' | ');
}

// After promotion these still say where recovery ended (PostgreSQL keeps them static). Whether the
// marker table exists is asked apart from its rows: a statement naming a missing table fails whole.
const RECOVERED_SQL = `SELECT coalesce(pg_walfile_name(pg_last_wal_replay_lsn()), ''), current_setting('data_checksums'), to_regclass('stanzactl.drill_marker') IS NOT NULL`;

/**
 * The spec's checks, each as the read-only role of render/drill-checks.ts (made on the copy first),
 * each a pass or a fail with a fixed phrase: nothing a check returned or PostgreSQL said about it.
 */
async function runSpecChecks(ops: HostOps, host: HostAddress, pg: Spec['postgres'], sqls: readonly string[]): Promise<DrillCheck[]> {
  if (sqls.length === 0) return [];
  reportProgress({ check: 'the spec\'s checks' });
  const confined = (await ops.must(host, withStdin(psqlScriptCommand(pg), drillChecksSetupSql(sqls)))).trim().split('\n').pop();
  if (confined !== CONFINED) throw refuse(`${host.name}: role ${CHECK_ROLE} on the drill's copy still has rights beyond pg_read_all_data: no check was run`, 'CheckRoleNotConfined');
  const out: DrillCheck[] = [];
  for (const i of sqls.keys()) {
    reportProgress({ check: `check ${i + 1}` });
    const r = await ops.run(host, drillCheckCommand(pg, i), { timeoutMs: CHECK_TIMEOUT_MS + 60_000 });
    out.push({ name: `check ${i + 1}`, ...drillCheckOutcome(r) });
  }
  return out;
}

/**
 * Everything checked on the running copy: the marker came back (else names the segment recovery
 * stopped before), pg_amcheck over every database, and the spec's own checks. Writes nothing but the
 * checks' role and functions on the copy; a check that fails is a result, not an error of the activity.
 */
export async function checkDrillCopy(ops: HostOps, spec: Spec, marker: DrillMarker, lastTransactionAt: string | null): Promise<StepResult & CopyFacts> {
  const { host, pg } = await drillCopy(ops, spec);
  const [replayWal, checksums, markerTable] = (await query(ops, host, pg, RECOVERED_SQL)).split('\t');
  const checks: DrillCheck[] = [];
  // A first drill whose WAL stops before the marker table was created has no table to ask.
  const found = markerTable === 't' ? await query(ops, host, pg, `SELECT EXISTS (SELECT 1 FROM stanzactl.drill_marker WHERE id = ${quoteLiteral(marker.id)})`) : 'f';
  // The copy's own timeline differs after promotion: name the segment on the primary's timeline.
  const stoppedIn = replayWal ? `${marker.walFile.slice(0, 8)}${replayWal.slice(8)}` : '';
  checks.push(found === 't'
    ? { name: 'marker', ok: true, detail: `the row written on the primary at drill start (in ${marker.walFile}) was recovered` }
    : {
        name: 'marker', ok: false,
        detail: `the row written at drill start (in ${marker.walFile}) was not recovered: recovery ended in ${stoppedIn || 'an unknown segment'}` +
          `${stoppedIn ? `, so WAL segment ${nextWalSegment(stoppedIn)} is missing from the archive or unreadable` : ''}` +
          `${marker.archived ? '' : ` (archiving had not shipped ${marker.walFile} within ${ARCHIVE_WAIT_MS / 1000} s)`}`,
      });
  reportProgress({ check: 'pg_amcheck' });
  const amcheck = await ops.run(host, asUser(pg.osUser, cmd(`${pg.binDir}/pg_amcheck`, '-p', String(pg.port), '--all', '--install-missing')), { timeoutMs: 3_600_000 });
  checks.push(amcheck.code === 0
    ? { name: 'pg_amcheck', ok: true, detail: 'heap tables and B-tree indexes of every database: no corruption' }
    : { name: 'pg_amcheck', ok: false, detail: `exit ${amcheck.code}: ${failureText({ outputTail: `${amcheck.stdout}\n${amcheck.stderr}` })}` });
  const specChecks = drillSettings(spec).checks ?? [];
  checks.push(...(await runSpecChecks(ops, host, pg, specChecks)));
  const failed = checks.filter((c) => !c.ok).map((c) => c.name);
  return {
    changed: specChecks.length > 0,
    dataChecksums: checksums === 'on',
    rpoSeconds: rpoSeconds(marker.writtenAt, lastTransactionAt === null ? null : Date.parse(lastTransactionAt) / 1000),
    checks,
    detail: failed.length ? `failed: ${failed.join(', ')}` : `${checks.length} checks passed`,
  };
}

/** Stops the copy, then pg_checksums --check on it: every data page's checksum, which pg_amcheck does not read. */
export async function checkDrillChecksums(ops: HostOps, spec: Spec): Promise<StepResult & { check: DrillCheck }> {
  const { host, pg } = await drillCopy(ops, spec);
  // pg_checksums reads only a cleanly stopped cluster; removeCopy finds it stopped and only empties it.
  if ((await ops.run(host, statusCommand(pg))).code === 0) await controlServer(ops, host, pg, 'stop');
  const r = await ops.run(host, asUser(pg.osUser, cmd(`${pg.binDir}/pg_checksums`, '--check', '-D', pg.dataDir)), { timeoutMs: 3_600_000 });
  const check: DrillCheck = r.code === 0
    ? { name: 'pg_checksums', ok: true, detail: r.stdout.split('\n').filter((l) => /Bad checksums|Blocks scanned/.test(l)).join(', ').replace(/\s+/g, ' ') || 'no bad checksum' }
    : { name: 'pg_checksums', ok: false, detail: `exit ${r.code}: ${failureText({ outputTail: `${r.stdout}\n${r.stderr}` })}` };
  return { changed: false, check, detail: `${check.name}: ${check.ok ? 'ok' : 'FAILED'}: ${check.detail}` };
}

/** `pgbackrest verify` on the repository host, detached (it reads the whole repository): every backup file's and WAL segment's checksum. */
export async function verifyRepository(ops: HostOps, spec: Spec, repo: RepoIndex = 1): Promise<StepResult & { check: DrillCheck }> {
  const host = repoHost(spec);
  const { output } = await runDetached(ops, host, pgbackrestCommand(spec.repository.user, spec.stanza, ...repoArgs(spec, repo), '--log-level-console=detail', 'verify'), { tailLines: 2000, part: repoPart(repo) });
  const v = parseVerifyOutput(output);
  const check: DrillCheck = { name: 'pgbackrest verify', ok: v.ok, detail: v.ok ? `every backup file and WAL segment in ${spec.offsite ? `repo${repo}` : 'the repository'} is valid` : v.problems.join('; ') };
  return { changed: false, check, detail: `${check.ok ? 'ok' : 'FAILED'}: ${check.detail}` };
}

/** stanzactl's own directory on the repository host (root's), beside its locks. */
export const DRILLS = '/var/lib/stanzactl/drills';

function recordPath(spec: Spec): string {
  return `${DRILLS}/${spec.stanza}.json`;
}

/**
 * Keeps the drill's result as the stanza's last drill (and last good one when it passed). A retry
 * rewrites the same record. Only the restoreDrill run that ran records, and only its own result (by
 * Temporal's word on the calling run, facts/drill.ts drillRecordProblem); anything else is refused.
 */
export async function recordDrill(ops: HostOps, spec: Spec, result: DrillResult): Promise<StepResult> {
  const { workflowType, workflowExecution } = Context.current().info;
  const problem = drillRecordProblem({ workflowType, ...workflowExecution }, DRILL_WORKFLOW, spec.stanza, drillSettings(spec).host, result, Date.now() / 1000);
  if (problem) throw refuse(`stanza ${spec.stanza}: drill record not written: ${problem}`, 'ForgedDrillRecord');
  const host = repoHost(spec);
  const text = await ops.readFile(host, recordPath(spec));
  const before = text === undefined ? null : parseDrillRecord(text);
  await ops.ensureDir(host, DRILLS, { owner: 'root', group: 'root', mode: '700' });
  const changed = await ops.ensureFile(host, recordPath(spec), `${JSON.stringify(nextRecord(before, result), null, 2)}\n`, { owner: 'root', group: 'root', mode: '600' });
  return { changed, detail: `${recordPath(spec)} on ${host.name}: ${result.ok ? 'passed' : 'failed'} drill kept` };
}

/** The stanza's drill record for status; a record that cannot be read is reported, not thrown. */
export async function drillStatus(ops: HostOps, spec: Spec): Promise<DrillFacts> {
  const host = repoHost(spec);
  try {
    const text = await ops.readFile(host, recordPath(spec));
    return { host: drillSettings(spec).host, record: text === undefined ? null : parseDrillRecord(text) };
  } catch (e) {
    return { host: drillSettings(spec).host, record: null, error: e instanceof Error ? e.message : String(e) };
  }
}
