import { parseArgs } from 'node:util';
import type { RecoverPlan } from '../activities/recover';
import { parseRecoveryTarget, type RecoveryTarget } from '../spec/recovery-target';
import { loadSpec } from '../spec/load';
import type { Spec } from '../spec/schema';
import { planId, recoverFacts } from '../spec/confirmation';
import { recoverWorkflowId } from '../workflow-ids';
import type { RecoverRequest, RecoverResult } from '../workflows/recover';
import { repoOption, UsageError, withClient, type CliCommand } from './command';
import { plannedRun } from './planned-run';

function describePlan(spec: Spec, p: RecoverPlan, rehearse: boolean): string[] {
  const d = spec.drills;
  return [
    `Recover stanza ${spec.stanza} in place to ${p.target}:`,
    ...(rehearse && d ? [`  rehearsal first on ${d.host}:${d.dataDir} (port ${d.port}): the same backup restored to the same target and promoted there; nothing below happens unless it is, and the copy is removed`] : []),
    `  backup    ${p.backup.label} (${p.backup.type}${p.backup.repo === undefined ? '' : ` in repo${p.backup.repo}`}, finished ${new Date(p.backup.stoppedAt * 1000).toISOString()}): ${p.backup.why}`,
    `  primary   ${p.primary} is stopped, restored from it (--delta), replays WAL to the target and is promoted to a new timeline`,
    ...(p.specPrimary ? [`  spec      names ${p.specPrimary} as the primary, but ${p.primary} runs as it (a failover done by hand): recover acts on ${p.primary}, the spec unchanged`] : []),
    `  LOST      ${p.lost}`,
    `  standbys  ${p.standbys.length ? `${p.standbys.join(', ')} are stopped now and rebuilt from a full backup taken on the new timeline` : 'none'}`,
    ...(p.found?.length ? [`  found     ${p.found.join(', ')}`] : []),
    `  meanwhile backups and rebuilds of stanza ${spec.stanza} are refused`,
  ];
}

function recoverTarget(type: string | undefined, target: string | undefined): RecoveryTarget {
  if (type === undefined || type === 'default') throw new UsageError('--type time|lsn|xid|name|immediate is required: recover undoes changes after a target');
  const parsed = parseRecoveryTarget(type, target);
  if ('error' in parsed) throw new UsageError(parsed.error);
  return parsed.target;
}

export const recoverCommand: CliCommand = {
  usage: 'recover --spec FILE --type T --target V [--repo 1|2] [--rehearse] [--yes]',
  summary: 'recover the whole cluster in place to a point in time (undo a bad change)',
  help: `Usage: stanzactl recover --spec FILE --type time|lsn|xid|name|immediate --target VALUE [--repo 1|2] [--rehearse] [--yes]

The disaster path: undoes every change after the target on the primary. First prints a plan (read
from the hosts, nothing changed): the backup used (for a time or an LSN the newest one that
finished before the target; for an xid or a restore point the newest one that ended before its
record, found in the WAL), the target, that every transaction after it is lost, the standbys
that will be rebuilt and what each was found to be. Refused, changing nothing, when the target
cannot be reached (an xid not committed, a restore point not in the WAL after a backup) or a node
the spec calls a standby is not one (a primary, a node others stream from, unreachable). After a
failover done by hand (the spec's primary runs no more as one, and one other node of its cluster
does) the plan is on that node and the others are its standbys. Then asks for the stanza's name on a terminal; without a terminal --yes is
required. Runs workflow recover-<stanza>@<repo>: holds the stanza (backups and rebuilds of it are refused
meanwhile; refused itself while one of them runs), stops the standbys and the primary, restores the
primary (--delta) to the target with promotion, waits until it accepts writes on its new timeline,
takes a full backup there, rebuilds every standby from it, and waits until each replays a marker
row. One recover per stanza at a time. --type/--target mean what they mean to pgbackrest restore.

--rehearse (needs the spec's drills: section): before stopping anything, restores the plan's
backup to the target in the drills' directory on drills.host, starts it and waits for its
promotion, then removes it (workflow rehearse-<stanza>@<repo>, refused beside a drill there). A
rehearsal that does not reach the target refuses the recover with PostgreSQL's reason; the
cluster is not touched. It costs one restore's time while the stanza is held (no backups).

--repo 1|2 (with the spec's offsite: repository): the repository whose backups the plan chooses
from and the primary is restored from, its WAL included; default 1, the repository host, so a
recover never restores from the object store unless asked to (e.g. repo1's backups are damaged).
The repository host must be up either way: the recover's lock, its slot and the full backup it
takes afterwards are there.`,
  async run(args) {
    const { values } = parseArgs({ args, options: { spec: { type: 'string' }, type: { type: 'string' }, target: { type: 'string' }, repo: { type: 'string' }, rehearse: { type: 'boolean' }, yes: { type: 'boolean' } }, strict: true });
    if (!values.spec) throw new UsageError('--spec FILE is required');
    const target = recoverTarget(values.type, values.target);
    const spec = loadSpec(values.spec);
    const rehearse = values.rehearse === true;
    const repo = repoOption(values.repo, [spec]);
    if (rehearse && !spec.drills) throw new UsageError(`--rehearse restores to drills.host first: stanza ${spec.stanza}'s spec has no drills: section (host, dataDir, port)`);
    return withClient('recover', async (client) => {
      const request: RecoverRequest = { target, ...(rehearse && { rehearse }), ...(repo && { repo }) };
      const run = await plannedRun<RecoverPlan, RecoverResult>(client, {
        action: 'recover', spec, workflowId: recoverWorkflowId(spec), workflows: ['recoverPlan', 'recoverCluster'], request, yes: values.yes === true,
        describe: (p) => describePlan(spec, p, rehearse),
        confirmed: (p) => ({ ...request, backup: p.backup.label, confirm: planId(recoverFacts(spec, p)) }),
        summary: (p) => `recover stanza ${spec.stanza} to ${p.target}`,
      });
      if ('code' in run) return run.code;
      const r = run.result;
      console.log(`stanza ${spec.stanza} recovered to ${r.plan.target}: ${r.plan.primary} on timeline ${r.timeline} (was ${r.plan.timeline}), restore in ${r.restoreSeconds.toFixed(1)} s`);
      if (r.rehearsal) {
        const h = r.rehearsal;
        console.log(`  rehearsed on ${h.place.host}: restore ${h.restoreSeconds.toFixed(1)} s, promoted after ${h.recoverySeconds.toFixed(1)} s${h.lastTransactionAt ? `, last transaction ${h.lastTransactionAt}` : ''}`);
      }
      console.log(`  full backup ${r.backup.label} on the new timeline`);
      for (const s of r.standbys) console.log(`  standby ${s.name}: streaming, replay lag ${s.replayLagBytes} bytes`);
      return 0;
    });
  },
};
