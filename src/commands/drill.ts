import { parseArgs } from 'node:util';
import { ApplicationFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { failureMessage, follow, startAlone } from '../client';
import type { DrillResult } from '../facts/drill';
import { TASK_QUEUE } from '../paths';
import { describeSchedule } from '../schedules/lookup';
import type { RepoIndex, Spec } from '../spec/schema';
import { drillWorkflowId, scheduleId } from '../workflow-ids';
import type { DrillOutcome } from '../workflows/drill';
import { loadSpecs, repoOption, SPECS_OPTIONS, withClient, type CliCommand } from './command';
import { runFleet } from './fleet-run';

function describeDrill(d: DrillResult): string[] {
  const s = (v: number | null) => (v === null ? '-' : `${v} s`);
  return [
    `restore drill on ${d.host}: ${d.ok ? 'passed' : 'FAILED'}; backup ${d.backupLabel ?? '-'}${d.repo ? ` from repo${d.repo}` : ''}, RTO ${s(d.rtoSeconds)}, RPO ${s(d.rpoSeconds)}`,
    ...d.checks.map((c) => `  ${c.ok ? 'ok    ' : 'FAILED'} ${c.name}: ${c.detail}`),
  ];
}

/** The drill a failed run kept in its failure's details (see workflows/drill.ts). */
function failedDrill(e: unknown): DrillResult | undefined {
  const cause = e instanceof WorkflowFailedError ? e.cause : undefined;
  return cause instanceof ApplicationFailure && cause.type === 'DrillFailed' ? (cause.details?.[0] as DrillResult | undefined) : undefined;
}

/** Manual drills run as drill-<stanza>@<repo>: one at a time, and never beside the one the schedule started. */
async function startDrill(client: Client, spec: Spec, repo?: RepoIndex) {
  const schedule = await describeSchedule(client, scheduleId(spec, 'drill'));
  const running = schedule?.info.runningActions.map((a) => a.workflow.workflowId) ?? [];
  if (running.length > 0) throw new Error(`refused: the scheduled drill ${running.join(', ')} is running; one drill of a stanza at a time`);
  const workflowId = drillWorkflowId(spec);
  const handle = await startAlone(client, 'restoreDrill', {
    taskQueue: TASK_QUEUE, workflowId, args: repo ? [spec, { repo }] : [spec],
    staticSummary: `restore drill of stanza ${spec.stanza}${repo ? ` from repo${repo}` : ''} on ${spec.drills?.host}`,
  });
  if ('running' in handle) throw new Error(`refused: a drill is already running: ${handle.running}`);
  return handle;
}

/** A drill restores to drills.host: a spec without one has nowhere to run it. */
const needsDrills = (spec: Spec) => (spec.drills ? [] : [{ path: 'drills', message: 'required by "stanzactl drill" (host, dataDir, port): nowhere to restore a drill' }]);

export const drillCommand: CliCommand = {
  usage: 'drill --spec FILE | --specs DIR [--repo 1|2]',
  summary: 'restore drill now: restore, check, measure RTO/RPO',
  help: `Usage: stanzactl drill --spec FILE [--repo 1|2]
       stanzactl drill --specs DIR [--repo 1|2]

Runs workflow restoreDrill (id drill-<stanza>@<repo>) on the spec's drills.host, a scratch host that is no
node: writes a marker row on the primary and switches WAL, restores the newest backup to the end
of the archive into drills.dataDir (delta when files are there), starts it standalone on
drills.port, then checks it: the marker came back, pg_amcheck, the spec's drills.checks,
pg_checksums on the stopped copy (when data checksums are on), pgbackrest verify of the repository;
then removes the copy. Prints each step, each check, RTO (restore start to accepting connections)
and RPO (drill start less the newest recovered transaction's commit time). The result is kept on
the repository host (/var/lib/stanzactl/drills/<stanza>.json) for "stanzactl status".
--repo 2 restores from the spec's offsite: repository (pgBackRest's repo2, WAL from there too) and
verifies that one: it proves the offsite copy restores. Without it pgBackRest restores from the
first repository holding a backup, and the verify is repo1's.
Exit 0 when the drill passed, 1 when it failed (naming the file, WAL segment or check); 2 on a bad
command line or a spec without drills:.

--specs DIR drills a fleet: each *.yaml, *.yml and *.json file directly in DIR is a spec, and each
needs drills:. All are validated first: one bad spec, or two naming the same stanza on the same
repository host, refuses the command (exit 2) naming each file and field, and no drill starts.
Then every stanza's drill starts at once and runs concurrently; it prints each one's workflow as
it starts, one line per stanza as its drill ends (passed with RTO and RPO, or FAILED with why) and
a count. Exit 0 when every drill passed, 1 when any failed. One drill at a time holds a scratch
host's drills.dataDir and port: specs sharing both see all drills but one refused, so give each
stanza its own (or drill them apart).`,
  async run(args) {
    const { values } = parseArgs({ args, options: { ...SPECS_OPTIONS, repo: { type: 'string' } }, strict: true });
    const { fleet, specs } = loadSpecs(values, needsDrills);
    const repo = repoOption(values.repo, specs.map((s) => s.spec));
    return withClient('drill', async (client) => {
      if (fleet) {
        return runFleet(specs, async (spec, started) => {
          const handle = await startDrill(client, spec, repo);
          started(handle.workflowId);
          try {
            return { ok: true, line: describeDrill(((await handle.result()) as DrillOutcome).drill)[0] };
          } catch (e) {
            const drill = failedDrill(e);
            if (!drill) throw e;
            return { ok: false, line: `${describeDrill(drill)[0]}: ${failureMessage(e)}` };
          }
        }, (l) => console.log(l));
      }
      const handle = await startDrill(client, specs[0].spec, repo);
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
