import type { temporal } from '@temporalio/proto';
import type { FaultEntry, FaultPoint, FaultRecord } from '../../dev/faults';

/**
 * The fault matrix's plan and rows, pure: which kills a workflow run takes, and what its history
 * and the fault hook's log say about each (tests/unit/fault-rows.test.ts checks the reading).
 */
export type Workflow = 'provisionCluster' | 'backupStanza' | 'rebuildStandby' | 'recoverCluster' | 'switchoverCluster' | 'failoverCluster' | 'rejoinStandby';

/** A case of a workflow with rows of its own (rejoinStandby: a rebuild that rejoins a forked old primary by pg_rewind). */
const WORKFLOW_TYPE: Partial<Record<Workflow, string>> = { rejoinStandby: 'rebuildStandby' };

/** The lab's hosts: Debian's clusters under pg_ctlcluster, or PGDG's packages with PostgreSQL under systemd. */
export type MatrixLayout = 'debian' | 'systemd-pgdg';

/** One workflow run of the matrix: its kills are all at one point. */
export interface MatrixRun {
  readonly layout: MatrixLayout;
  readonly workflow: Workflow;
  readonly point: FaultPoint;
}

/** A step's point a, as FaultEntry's `command` and `output` patterns. */
interface FirstChange {
  readonly command?: string;
  readonly output?: string;
  /** The step touches no host (it checks its arguments only), so it has no point a. */
  readonly hostless?: true;
}

/** A promotion and what follows it (workflows/role-change.ts), the same in a switchover and a failover. */
const PROMOTED: Record<string, FirstChange> = {
  promoteNode: { command: 'pg_promote' },
  waitPrimaryPromoted: {},
  ensureReplicationAccess: {},
  // The first file it writes: the old primary's ~/.pgpass, or a standby's postgresql.auto.conf.
  pointAtPrimary: { command: 'mktemp' },
  ensurePgbackrestConf: { command: 'mktemp' },
  checkStanza: {},
  chooseBackupSource: {},
  runBackup: { command: 'stanzactl-run' },
  writeMarker: {},
  waitMarkerReplayed: {},
};

/** Point a of each step: the first command that changes something there (or a read, for steps that only read). */
export const FIRST_CHANGE: Record<Workflow, Record<string, FirstChange>> = {
  provisionCluster: {
    preflight: {},
    claimProvisionLock: { command: 'install -d -m 700' },
    ensureRepositoryHost: { command: 'useradd|mkdir -p' },
    ensureNodeDirectories: { command: 'mkdir -p' },
    ensureSshTrust: { output: '^created$' },
    ensurePgbackrestConf: { command: 'mktemp' },
    // A new cluster is created beside the first steps, whose kills may take down the attempt that
    // created (and started: the postmaster outlives a killed pg_ctlcluster) it: the retry then
    // changes nothing, and is killed after reading the settings.
    ensurePrimary: { command: 'pg_createcluster|initdb|pg_ctlcluster .* start|FROM pg_settings' },
    ensureStanza: { command: 'stanza-create' },
    checkStanza: {},
    ensureFullBackup: { command: 'stanzactl-run' },
    ensureReplicationAccess: {},
    ensureStandbyPgpass: { command: 'mktemp' },
    prepareStandby: { command: 'pg_createcluster|pg_ctlcluster .* stop|mkdir -p' },
    restoreStandby: { command: 'stanzactl-run' },
    // The standbys start side by side: a sibling's kill may take down the attempt that started this
    // one (the postmaster outlives pg_ctlcluster), and the retry then only finds it running. So the
    // kill follows the start, or the status read (pg_ctl status) that says running (the output must
    // not say "no server running"; matched from the output's first character only).
    startStandby: { command: 'pg_ctlcluster .* start|pg_ctl status', output: '(?<![\\s\\S])(?![\\s\\S]*no server running)' },
    waitStreaming: {},
    releaseProvisionLock: { command: 'rm -rf' },
  },
  backupStanza: {
    claimBackupLock: { command: 'install -d -m 700' },
    observeTopology: {},
    chooseBackupSource: {},
    runBackup: { command: 'stanzactl-run' },
    releaseBackupLock: { command: 'rm -rf' },
  },
  rebuildStandby: {
    // A rebuild's plan is its arguments' (node, host, data directory): nothing to read.
    requireConfirmed: { hostless: true },
    observeTopology: {},
    inspectRebuildTarget: {},
    ensureReplicationAccess: {},
    ensureNodeDirectories: { command: 'mkdir -p' },
    ensureSshTrust: {},
    // The files are as provision left them: a file read with its owner and mode that match is not
    // written again, so these only read.
    ensurePgbackrestConf: {},
    ensureStandbyPgpass: {},
    prepareStandby: { command: 'pg_ctlcluster .* stop' },
    // A standby on the primary's timeline: pg_rewind is ruled out from pg_control, nothing written.
    planRewind: {},
    restoreStandby: { command: 'stanzactl-run' },
    startStandby: { command: 'pg_ctlcluster .* start' },
    writeMarker: {},
    waitMarkerReplayed: {},
  },
  // Activity types run more than once (stopPostgres per node, startStandby for the primary and then
  // the standbys) take their kill in the first run that matches.
  recoverCluster: {
    requireConfirmed: {},
    claimRecoverLock: { command: 'install -d -m 700' },
    planRecovery: {},
    archivePrimaryWal: { command: 'pgbackrest .*check' },
    stopPostgres: { command: 'pg_ctlcluster .* stop' },
    restorePrimary: { command: 'stanzactl-run' },
    startStandby: { command: 'pg_ctlcluster .* start' },
    waitPrimaryPromoted: {},
    ensureReplicationAccess: {},
    runBackup: { command: 'stanzactl-run' },
    // The standbys were stopped by stopPostgres: preparing them only reads.
    prepareStandby: {},
    restoreStandby: { command: 'stanzactl-run' },
    writeMarker: {},
    waitMarkerReplayed: {},
    releaseRecoverLock: { command: 'rm -rf' },
  },
  // pointAtPrimary and waitMarkerReplayed run once per other node: the first that matches takes the kill.
  switchoverCluster: {
    claimSwitchoverLock: { command: 'install -d -m 700' },
    requireConfirmed: {},
    planSwitchover: {},
    checkpointPrimary: { command: 'CHECKPOINT' },
    stopPostgres: { command: 'pg_ctlcluster .* stop' },
    waitShutdownReplayed: {},
    ...PROMOTED,
    releaseSwitchoverLock: { command: 'rm -rf' },
  },
  // A failover of a primary that still runs (--fence stop): the one a lab can make at will.
  failoverCluster: {
    claimFailoverLock: { command: 'install -d -m 700' },
    requireConfirmed: {},
    planFailover: {},
    fenceNode: { command: 'pg_ctlcluster .* stop' },
    ...PROMOTED,
    releaseFailoverLock: { command: 'rm -rf' },
  },
  // The rebuild of an old primary that forked (its last rows never reached the new primary), fenced
  // by the failover: the steps a rebuild takes only there; the others are rebuildStandby's rows.
  rejoinStandby: {
    // Inside its dry run: after the role, its grants, pg_hba, .pgpass and the recovery settings.
    planRewind: { command: 'pg_rewind' },
    rewindNode: { command: 'stanzactl-run' },
    pointAtPrimary: { command: 'pg_ctlcluster .* start' },
  },
};

/**
 * On systemd hosts the matrix takes only the steps that start, stop, restart or reload a server
 * there, killed right after their systemctl command returned: the rest of each workflow does there
 * what it does on Debian, whose rows cover it. Provision's prepareStandby stops nothing there (a
 * PGDG standby's data directory is empty until the restore), and a backup controls no server.
 */
const SYSTEMD_CONTROL_STEPS: Record<Workflow, readonly string[]> = {
  provisionCluster: ['ensurePrimary', 'startStandby'],
  backupStanza: [],
  rebuildStandby: ['prepareStandby', 'startStandby'],
  recoverCluster: ['stopPostgres', 'startStandby'],
  switchoverCluster: [],
  failoverCluster: [],
  rejoinStandby: [],
};

// Only the control command: the facts script each control runs first (SERVICE_FACTS) reads with `systemctl show`.
const SYSTEMCTL: FirstChange = { command: '\\bsystemctl (start|stop|restart|reload) ' };

/** The steps a run on `layout` kills, in FIRST_CHANGE's order, with their point a there. */
function firstChanges(layout: MatrixLayout, workflow: Workflow): [string, FirstChange][] {
  const steps = Object.entries(FIRST_CHANGE[workflow]);
  if (layout === 'debian') return steps;
  return steps.filter(([step]) => SYSTEMD_CONTROL_STEPS[workflow].includes(step)).map(([step]) => [step, SYSTEMCTL]);
}

export interface MatrixRow {
  readonly layout: MatrixLayout;
  readonly workflow: Workflow;
  readonly step: string;
  readonly point: FaultPoint;
  /** "ok", or what went wrong for this kill. */
  readonly outcome: string;
  /** Kill to the retried attempt's ActivityTaskStarted, in seconds. */
  readonly resumeSeconds?: number;
  /** The limit the resume is held to: the step's heartbeatTimeout + 3 s (+ the backoff's growth after a repeated kill). */
  readonly limitSeconds?: number;
}

export interface ServerKillRow {
  readonly workflow: Workflow;
  readonly at: string;
  readonly outcome: string;
}

export interface MatrixReport {
  readonly rows: MatrixRow[];
  readonly serverKills: ServerKillRow[];
  /** Per workflow run: what is wrong beyond single rows (end state, extra retries, repeated pgBackRest runs). */
  readonly runProblems: string[];
  /** Seconds from a worker's death to its successor polling. */
  readonly restartSeconds: number[];
  readonly seconds: number;
}

interface ActivityEvent {
  readonly type: string;
  readonly activityId: string;
  readonly heartbeatSeconds?: number;
  /** The retry policy's wait before attempt n, in seconds. */
  readonly backoffSeconds: (attempt: number) => number;
  startedAt?: number;
  attempt: number;
  result?: unknown;
}

const millis = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

/** Each activity of a history by its activity id: type, last attempt, its start time and result. */
export function activityEvents(history: temporal.api.history.v1.IHistory): Map<string, ActivityEvent> {
  const byScheduled = new Map<string, ActivityEvent>();
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const hb = s.heartbeatTimeout ? millis(s.heartbeatTimeout) / 1000 : undefined;
      const r = s.retryPolicy;
      const initial = r?.initialInterval ? millis(r.initialInterval) / 1000 : 1;
      const max = r?.maximumInterval ? millis(r.maximumInterval) / 1000 : Infinity;
      const backoffSeconds = (n: number) => Math.min(initial * (r?.backoffCoefficient ?? 2) ** Math.max(0, n - 2), max);
      byScheduled.set(String(e.eventId), { type: s.activityType?.name ?? '?', activityId: s.activityId ?? '?', heartbeatSeconds: hb, backoffSeconds, attempt: 0 });
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st) {
      const a = byScheduled.get(String(st.scheduledEventId))!;
      a.attempt = st.attempt ?? 0;
      a.startedAt = millis(e.eventTime);
    }
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const p = done.result?.payloads?.[0];
      byScheduled.get(String(done.scheduledEventId))!.result = p?.data ? JSON.parse(Buffer.from(p.data).toString()) : undefined;
    }
  }
  return new Map([...byScheduled.values()].map((a) => [a.activityId, a]));
}

export function entriesFor({ layout, workflow, point }: MatrixRun): FaultEntry[] {
  return firstChanges(layout, workflow).filter(([, m]) => point === 'b' || !m.hostless).map(([activityType, { hostless: _, ...m }]) => ({
    id: `${workflow}/${activityType}/${point}`,
    workflowType: WORKFLOW_TYPE[workflow] ?? workflow,
    activityType,
    point,
    ...(point === 'a' ? m : {}),
  }));
}

/** Rows of one workflow run that took the kills of `entries`, read from its history and the fault log. */
export function rowsOf(run: MatrixRun, entries: FaultEntry[], log: FaultRecord[], history: temporal.api.history.v1.IHistory, runId: string): { rows: MatrixRow[]; problems: string[] } {
  const { point } = run;
  const acts = activityEvents(history);
  const kills = log.flatMap((r) => (r.kind === 'kill' && r.runId === runId ? [r] : []));
  const rows = entries.map((e): MatrixRow => {
    const step = e.activityType;
    const k = kills.find((x) => x.id === e.id);
    if (!k) return { ...run, step, outcome: 'the kill never fired' };
    const a = acts.get(k.activityId);
    if (!a?.startedAt) return { ...run, step, outcome: `${step} (activity ${k.activityId}) never started again` };
    const problems: string[] = [];
    if (a.attempt <= k.attempt) problems.push(`attempt ${a.attempt} after a kill in attempt ${k.attempt}`);
    // The kill this attempt resumed from: the last one before it started that ended an attempt of
    // this activity (its own, or a sibling's while it was in flight on the same worker).
    const hits = kills.filter((x) => x.at <= a.startedAt! && (x.activityId === k.activityId || x.inFlight.some((f) => f.runId === runId && f.activityId === k.activityId)));
    // An attempt that a sibling's kill took down before the hook saw it in flight (dispatched to the
    // worker, not yet running) leaves no record but its number: then the last kill before the
    // resume is the one resumed from (a provision's ensureSshTrust once measured 13.1 s from its own).
    const unrecorded = a.attempt - k.attempt - hits.filter((x) => x.at > k.at).length > 1;
    const last = Math.max(...kills.filter((x) => x.at <= a.startedAt!).map((x) => x.at));
    const from = Math.max(k.at, ...hits.map((x) => x.at), ...(unrecorded ? [last] : []));
    const resumeSeconds = (a.startedAt - from) / 1000;
    // A step killed again in its retry (first as a sibling in flight, then at its own point) waits
    // the retry policy's longer backoff before the next attempt: that wait is policy, not latency.
    // The server finds a dead attempt heartbeatTimeout after its last heartbeat (sent up to the
    // kill), fires that timer late by up to about a second, waits the 0.2 s backoff and dispatches:
    // resumes of 5-7 s are the rule (7.0 s on 2 of 113 rows of the run of 2026-12-03).
    const limitSeconds = (a.heartbeatSeconds ?? Infinity) + 3 + (a.backoffSeconds(a.attempt) - a.backoffSeconds(2));
    if (!(resumeSeconds <= limitSeconds)) problems.push(`resumed after ${resumeSeconds.toFixed(1)} s (limit ${limitSeconds} s)`);
    const changed = (a.result as { changed?: boolean } | undefined)?.changed;
    if (point === 'b' && changed === true) problems.push('the re-run of the completed step reported "changed"');
    return { ...run, step, outcome: problems.join('; ') || 'ok', resumeSeconds, limitSeconds };
  });
  // Only a killed attempt, or one in flight beside it when the worker died, may have run twice.
  const mayRetry = new Set(kills.flatMap((k) => [k.activityId, ...k.inFlight.filter((f) => f.runId === runId).map((f) => f.activityId)]));
  const problems = [...acts.values()].filter((a) => a.attempt > 1 && !mayRetry.has(a.activityId)).map((a) => `${a.type} (activity ${a.activityId}) ran ${a.attempt} times without a kill`);
  return { rows, problems };
}

/** The matrix as the bench prints it. */
export function matrixTable(r: MatrixReport): string {
  const head = ['hosts', 'workflow', 'step', 'point', 'resume s', 'limit s', 'outcome'];
  const body = r.rows.map((x) => [x.layout, x.workflow, x.step, x.point, x.resumeSeconds?.toFixed(1) ?? '-', x.limitSeconds?.toFixed(0) ?? '-', x.outcome]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (cols: string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  const resumes = r.rows.flatMap((x) => (x.resumeSeconds === undefined ? [] : [x.resumeSeconds]));
  return [
    fmt(head),
    ...body.map(fmt),
    '',
    `${r.rows.length} kills, ${r.rows.filter((x) => x.outcome === 'ok').length} ok; largest resume ${Math.max(...resumes).toFixed(1)} s`,
    ...r.serverKills.map((s) => `Temporal server SIGKILL during ${s.workflow}/${s.at}: ${s.outcome}`),
    ...r.runProblems.map((p) => `problem: ${p}`),
    `${r.restartSeconds.length} worker restarts, ${Math.min(...r.restartSeconds).toFixed(1)}-${Math.max(...r.restartSeconds).toFixed(1)} s each`,
    `matrix took ${r.seconds.toFixed(0)} s`,
  ].join('\n');
}
