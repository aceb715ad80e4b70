import { parseArgs } from 'node:util';
import { ApplicationFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { failureMessage, follow, startAlone } from '../client';
import type { DrillResult } from '../facts/drill';
import { TASK_QUEUE } from '../paths';
import { describeSchedule } from '../schedules/lookup';
import { loadSpec } from '../spec/load';
import type { Spec } from '../spec/schema';
import { drillWorkflowId, scheduleId } from '../workflow-ids';
import type { DrillOutcome } from '../workflows/drill';
import { UsageError, withClient, type CliCommand } from './command';

function describeDrill(d: DrillResult): string[] {
  const s = (v: number | null) => (v === null ? '-' : `${v} s`);
  return [
    `restore drill on ${d.host}: ${d.ok ? 'passed' : 'FAILED'}; backup ${d.backupLabel ?? '-'}, RTO ${s(d.rtoSeconds)}, RPO ${s(d.rpoSeconds)}`,
    ...d.checks.map((c) => `  ${c.ok ? 'ok    ' : 'FAILED'} ${c.name}: ${c.detail}`),
  ];
}

/** The drill a failed run kept in its failure's details (see workflows/drill.ts). */
function failedDrill(e: unknown): DrillResult | undefined {
  const cause = e instanceof WorkflowFailedError ? e.cause : undefined;
  return cause instanceof ApplicationFailure && cause.type === 'DrillFailed' ? (cause.details?.[0] as DrillResult | undefined) : undefined;
}

/** Manual drills run as drill-<stanza>@<repo>: one at a time, and never beside the one the schedule started. */
async function startDrill(client: Client, spec: Spec) {
  const schedule = await describeSchedule(client, scheduleId(spec, 'drill'));
  const running = schedule?.info.runningActions.map((a) => a.workflow.workflowId) ?? [];
  if (running.length > 0) throw new Error(`refused: the scheduled drill ${running.join(', ')} is running; one drill of a stanza at a time`);
  const workflowId = drillWorkflowId(spec);
  const handle = await startAlone(client, 'restoreDrill', {
    taskQueue: TASK_QUEUE, workflowId, args: [spec],
    staticSummary: `restore drill of stanza ${spec.stanza} on ${spec.drills?.host}`,
  });
  if ('running' in handle) throw new Error(`refused: a drill is already running: ${handle.running}`);
  return handle;
}

export const drillCommand: CliCommand = {
  usage: 'drill --spec FILE',
  summary: 'restore drill now: restore, check, measure RTO/RPO',
  help: `Usage: stanzactl drill --spec FILE

Runs workflow restoreDrill (id drill-<stanza>@<repo>) on the spec's drills.host, a scratch host that is no
node: writes a marker row on the primary and switches WAL, restores the newest backup to the end
of the archive into drills.dataDir (delta when files are there), starts it standalone on
drills.port, then checks it: the marker came back, pg_amcheck, the spec's drills.checks,
pg_checksums on the stopped copy (when data checksums are on), pgbackrest verify of the repository;
then removes the copy. Prints each step, each check, RTO (restore start to accepting connections)
and RPO (drill start less the newest recovered transaction's commit time). The result is kept on
the repository host (/var/lib/stanzactl/drills/<stanza>.json) for "stanzactl status".
Exit 0 when the drill passed, 1 when it failed (naming the file, WAL segment or check).`,
  async run(args) {
    const { values } = parseArgs({ args, options: { spec: { type: 'string' } }, strict: true });
    if (!values.spec) throw new UsageError('--spec FILE is required');
    const spec = loadSpec(values.spec);
    if (!spec.drills) throw new UsageError(`${values.spec} has no drills: section (host, dataDir, port): nowhere to restore a drill`);
    return withClient('drill', async (client) => {
      const handle = await startDrill(client, spec);
      console.log(`workflow ${handle.workflowId}`);
      try {
        const outcome = await follow<DrillOutcome>(handle, (l) => console.log(l));
        for (const l of describeDrill(outcome.drill)) console.log(l);
        return 0;
      } catch (e) {
        const drill = failedDrill(e);
        if (!drill) throw e;
        for (const l of describeDrill(drill)) console.log(l);
        console.error(`drill failed: ${failureMessage(e)}`);
        return 1;
      }
    });
  },
};
