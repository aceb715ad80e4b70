import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { TASK_QUEUE } from '../paths';
import { findSchedules } from '../schedules/lookup';
import { loadSpec } from '../spec/load';
import type { Spec } from '../spec/schema';
import { renderMetrics } from '../status/gauges';
import { Observations } from '../status/observations';
import { evaluate } from '../status/policy';
import { renderText, statusReport, type ScheduleState, type StatusReport } from '../status/render';
import { clusterKey, type ClusterRef } from '../workflow-ids';
import type { StatusFacts } from '../facts/status';
import { UsageError, withClient, type CliCommand } from './command';

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

const FORMATS = ['text', 'json', 'prometheus'] as const;
type Format = (typeof FORMATS)[number];

function render(format: Format, spec: Spec, report: StatusReport, facts: StatusFacts, nowMs: number): string {
  if (format === 'json') return JSON.stringify(report, null, 2);
  // The worker's gauges of this one read; the trailing newline is part of the format.
  if (format === 'prometheus') return renderMetrics(Observations.fromStatus(spec, facts, nowMs / 1000), nowMs).trimEnd();
  return renderText(report).join('\n');
}

export const statusCommand: CliCommand = {
  usage: 'status --spec FILE [--json | --format text|json|prometheus]',
  summary: 'backups, archiving, standbys, schedules; exit 1 on a broken policy',
  help: `Usage: stanzactl status --spec FILE [--json | --format text|json|prometheus]

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
code is the same.`,
  async run(args) {
    const { values } = parseArgs({ args, options: { spec: { type: 'string' }, json: { type: 'boolean' }, format: { type: 'string' } }, strict: true });
    if (!values.spec) throw new UsageError('--spec FILE is required');
    const format = values.format ?? (values.json ? 'json' : 'text');
    if (!FORMATS.includes(format as Format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not ${JSON.stringify(format)}`);
    if (values.json && format !== 'json') throw new UsageError('--json and --format ' + format + ' contradict each other');
    const spec = loadSpec(values.spec);
    return withClient('status', async (client) => {
      const [facts, schedules] = await Promise.all([fetchStatusFacts(client, spec), stanzaSchedules(client, spec)]);
      const now = Date.now();
      const report = statusReport(facts, schedules, evaluate(facts, spec, now), now);
      console.log(render(format as Format, spec, report, facts, now));
      return report.ok ? 0 : 1;
    });
  },
};
