import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { mapBounded } from '../bounded';
import { failureMessage } from '../client';
import { TASK_QUEUE } from '../paths';
import { findSchedules } from '../schedules/lookup';
import type { SpecFile } from '../spec/load-dir';
import type { Spec } from '../spec/schema';
import { fleetReport, renderFleet, useColour } from '../status/fleet';
import { renderMetrics } from '../status/gauges';
import { Observations } from '../status/observations';
import { evaluate } from '../status/policy';
import { renderText, statusReport, type ScheduleState, type StatusReport } from '../status/render';
import { clusterKey, type ClusterRef } from '../workflow-ids';
import type { StatusFacts } from '../facts/status';
import { loadSpecs, SPECS_OPTIONS, UsageError, withClient, type CliCommand } from './command';

/**
 * Each call gets a workflow of its own: it only reads, so concurrent calls (cron and a DBA) need
 * no serializing, each judges the spec it was given, and one stuck run cannot hold back the next.
 */
export function statusWorkflowId(spec: Spec): string {
  return `status-${clusterKey(spec)}-${randomUUID().slice(0, 8)}`;
}

export async function fetchStatusFacts(client: Client, spec: Spec): Promise<StatusFacts> {
  return client.workflow.execute('stanzaStatus', {
    taskQueue: TASK_QUEUE,
    workflowId: statusWorkflowId(spec),
    args: [spec],
    // Without a worker nothing would ever answer: a monitoring check must end, and fail.
    workflowExecutionTimeout: '2 minutes',
    staticSummary: `status of stanza ${spec.stanza}`,
  });
}

/** The cluster's schedules under the ids `schedule apply` gives them (a schedule of an older stanzactl shows after the next apply). */
export async function stanzaSchedules(client: Client, cluster: ClusterRef): Promise<ScheduleState[]> {
  return (await findSchedules(client, cluster)).map(({ id, type, description: d }) => {
    const next = d.info.nextActionTimes[0];
    return { type, id, paused: d.state.paused, nextRun: next ? Math.floor(next.getTime() / 1000) : null };
  });
}

/** One stanza's status as `status` prints it: the workflow's facts and the schedules, judged now. */
async function readStatus(client: Client, spec: Spec): Promise<{ report: StatusReport; facts: StatusFacts; nowMs: number }> {
  const [facts, schedules] = await Promise.all([fetchStatusFacts(client, spec), stanzaSchedules(client, spec)]);
  const nowMs = Date.now();
  return { report: statusReport(facts, schedules, evaluate(facts, spec, nowMs), nowMs), facts, nowMs };
}

/**
 * Status reads of a fleet in flight at once: enough that 50 stanzas whose hosts answer take
 * seconds, few enough not to flood the workers (each read is several activities) or the server.
 */
const FLEET_READS_AT_ONCE = 16;

/** Every stanza's status, as one report; a read that fails is the stanza's verdict, not the command's end. */
async function fleetStatus(client: Client, specs: readonly SpecFile[], json: boolean): Promise<number> {
  const reads = await mapBounded(specs, FLEET_READS_AT_ONCE, async ({ file, spec }) => {
    const stanza = { file, stanza: spec.stanza, repositoryHost: spec.repository.host };
    try {
      return { ...stanza, report: (await readStatus(client, spec)).report };
    } catch (e) {
      return { ...stanza, error: failureMessage(e) };
    }
  });
  const report = fleetReport(reads);
  console.log(json ? JSON.stringify(report, null, 2) : renderFleet(report, useColour(process.stdout.isTTY, process.env)).join('\n'));
  return report.ok ? 0 : 1;
}

const FORMATS = ['text', 'json', 'prometheus'] as const;
type Format = (typeof FORMATS)[number];

function render(format: Format, spec: Spec, report: StatusReport, facts: StatusFacts, nowMs: number): string {
  if (format === 'json') return JSON.stringify(report, null, 2);
  // The worker's gauges of this one read; the trailing newline is part of the format.
  if (format === 'prometheus') return renderMetrics(Observations.fromStatus(spec, facts, nowMs / 1000), nowMs).trimEnd();
  return renderText(report).join('\n');
}

export const statusCommand: CliCommand = {
  usage: 'status (--spec FILE | --all --specs DIR) [--json]',
  summary: 'backups, archiving, standbys, schedules; exit 1 on a broken policy',
  help: `Usage: stanzactl status --spec FILE [--json | --format text|json|prometheus]
       stanzactl status [--all] --specs DIR [--json]

Reads, changes nothing: pgBackRest's view of the stanza (status, each backup with its type, sizes
and age), archiving on the primary (last archived WAL and its age, failures), each standby's state
and replay delay (a stopped or unreachable standby is reported as down), the last restore drill
(with drills: in the spec: when, backup, each check, RTO, RPO) and the next run of each schedule
(backup-<stanza>@<repo>-full|diff|incr, drill-<stanza>@<repo>; <repo> is the spec's repository.host).
Runs workflow status-<stanza>@<repo>-<id>; needs a worker.

Exit 0 when all is well; 1 when a policy is broken (backups.maxAge.full / .any exceeded, no backup
while maxAge is set, the last drill failed, backups.maxAge.drill exceeded by the last passed drill),
the stanza's pgBackRest status is not ok, archiving is failing or off, or the status could not be
read; 2 on a bad command line or spec. --json (= --format json) prints one JSON object (times in
epoch seconds, sizes in bytes) with "ok" and "problems". --format prometheus prints the worker's
stanzactl_* gauges of this read (README "Metrics"), for node_exporter's textfile collector; the exit
code is the same.

--specs DIR (--all says the same) reads every stanza of a fleet: each *.yaml, *.yml and *.json
file directly in DIR is a spec. All are validated first: one bad spec, or two naming the same
stanza on the same repository host, refuses the command (exit 2) naming each file and field, and
nothing is read. Then ${FLEET_READS_AT_ONCE} stanzas are read at once, each as --spec FILE reads it (a read
that gets no answer ends after 2 minutes), and one table is printed, worst first (unreadable, broken,
then ok; by stanza): STANZA, REPOSITORY host, newest FULL BACKUP and its AGE, ARCHIVING (ok,
FAILING, OFF), STANDBYS streaming/total, WORST LAG (bytes, as the primary sees it), LAST DRILL
(passed or FAILED, how long ago; - without drills:), VERDICT (ok, BROKEN with the first problem,
UNREADABLE with why; "?" where a part could not be read). Lines not ok are red on a terminal
(not with NO_COLOR set). Exit 0 when every stanza is ok, 1 when any is broken or unreadable, 2
on a bad command line or spec. --json prints {"ok", "counts", "stanzas": [{"stanza",
"repositoryHost", "file", "verdict", "error", "report"}]}, each report as --spec FILE --json prints it.`,
  async run(args) {
    const { values } = parseArgs({ args, options: { ...SPECS_OPTIONS, all: { type: 'boolean' }, json: { type: 'boolean' }, format: { type: 'string' } }, strict: true });
    const format = values.format ?? (values.json ? 'json' : 'text');
    if (!FORMATS.includes(format as Format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not ${JSON.stringify(format)}`);
    if (values.json && format !== 'json') throw new UsageError('--json and --format ' + format + ' contradict each other');
    if (values.all && !values.specs) throw new UsageError('--all reads every spec of --specs DIR: give --specs DIR');
    if (values.specs && format === 'prometheus') throw new UsageError("--format prometheus prints one stanza's read (--spec FILE); a worker's metrics endpoint serves every stanza's");
    const { fleet, specs } = loadSpecs(values);
    return withClient('status', async (client) => {
      if (fleet) return fleetStatus(client, specs, format === 'json');
      const { spec } = specs[0];
      const { report, facts, nowMs } = await readStatus(client, spec);
      console.log(render(format as Format, spec, report, facts, nowMs));
      return report.ok ? 0 : 1;
    });
  },
};
