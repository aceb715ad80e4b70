import { parseArgs } from 'node:util';
import type { SwitchoverPlan } from '../activities/switchover';
import { loadSpec } from '../spec/load';
import { primaryNode } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { planId, switchoverFacts } from '../spec/confirmation';
import { switchoverWorkflowId } from '../workflow-ids';
import type { SwitchoverRequest, SwitchoverResult } from '../workflows/switchover';
import { UsageError, withClient, type CliCommand } from './command';
import { plannedRun } from './planned-run';

function describePlan(spec: Spec, p: SwitchoverPlan): string[] {
  const specPrimary = primaryNode(spec).name;
  return [
    `Switch stanza ${spec.stanza} over from ${p.primary} to ${p.to} (planned, no data loss):`,
    `  primary   ${p.primary} (timeline ${p.timeline}) is checkpointed and stopped cleanly; writes fail from then until ${p.to} accepts them`,
    `  target    ${p.to} streams from it, ${p.targetLagBytes} bytes behind; promoted once it has replayed ${p.primary}'s shutdown checkpoint, on timeline ${p.timeline + 1}`,
    `  standbys  ${[p.primary, ...p.standbys].join(', ')} then stream from ${p.to} (${p.primary} as a standby: standby.signal and primary_conninfo)`,
    `  backup    ${p.backup.type} on the new timeline (${p.backup.why}); then a marker row every node must replay`,
    ...(specPrimary !== p.primary ? [`  spec      names ${specPrimary} as the primary, but ${p.primary} runs as it: the switchover acts on ${p.primary}`] : []),
    `  meanwhile backups, rebuilds and recovers of stanza ${spec.stanza} are refused (a scheduled backup is skipped, saying why)`,
    `  a failure before the promotion starts ${p.primary} again as the primary; the spec file is not edited`,
  ];
}

export const switchoverCommand: CliCommand = {
  usage: 'switchover --spec FILE --to NODE [--yes]',
  summary: 'hand the primary role to a streaming standby, planned, with no data loss',
  help: `Usage: stanzactl switchover --spec FILE --to NODE [--yes]

A planned switchover (a kernel update on the primary's host). First prints a plan read from the
hosts (nothing changed): the node that runs as the primary now (whatever the spec names), the
target, how far behind it replays, the other standbys that will follow it, the backup taken on
the new timeline. Refused, changing nothing, unless the target streams from the primary with its
replay at most 16 MiB behind and every other node is a streaming standby of the primary. Then asks
for the stanza's name on a terminal; without a terminal --yes is required.

Runs workflow switchover-<stanza>@<repo>: holds the stanza (backups, rebuilds and recovers are refused or
skipped meanwhile), checkpoints the primary, stops it cleanly, waits until the target has replayed
its shutdown checkpoint (both LSNs are shown: the proof that nothing is lost), promotes the target,
waits until it accepts writes on the new timeline, makes every other node (the old primary too) a
standby of it (standby.signal, primary_conninfo, restore_command, recovery_target_timeline=latest
in postgresql.auto.conf; reloaded, restarted or started), rewrites pgbackrest.conf, runs
pgbackrest check, takes a backup on the new timeline and waits until every node replays a marker
row. Never two primaries: the old one is stopped before the promotion and starts only as a standby.
A failure before the promotion starts the old primary again. Every later command (backup, rebuild,
recover, drill, status) acts on the new primary with the spec unedited.`,
  async run(args) {
    const { values } = parseArgs({ args, options: { spec: { type: 'string' }, to: { type: 'string' }, yes: { type: 'boolean' } }, strict: true });
    if (!values.spec || !values.to) throw new UsageError('--spec FILE and --to NODE are required');
    const spec = loadSpec(values.spec);
    const to = values.to;
    if (!spec.nodes.some((n) => n.name === to)) throw new UsageError(`--to ${to}: not a node of the spec (${spec.nodes.map((n) => n.name).join(', ')})`);
    return withClient('switchover', async (client) => {
      const request: SwitchoverRequest = { to };
      const run = await plannedRun<SwitchoverPlan, SwitchoverResult>(client, {
        action: 'switchover', spec, workflowId: switchoverWorkflowId(spec), workflows: ['switchoverPlan', 'switchoverCluster'], request, yes: values.yes === true,
        describe: (p) => describePlan(spec, p),
        confirmed: (p) => ({ ...request, confirm: planId(switchoverFacts(spec, p)) }),
        summary: (p) => `switch stanza ${spec.stanza} over from ${p.primary} to ${to}`,
      });
      if ('code' in run) return run.code;
      const r = run.result;
      console.log(`switchover of stanza ${spec.stanza} done: ${to} is the primary on timeline ${r.timeline} (was ${r.plan.timeline})`);
      console.log(`  ${r.plan.primary} stopped at its shutdown checkpoint ${r.checkpointLsn}; ${to} had replayed up to ${r.replayLsn} before its promotion: nothing lost`);
      console.log(`  ${r.backup.type} backup ${r.backup.label} on the new timeline (${r.backup.why})`);
      for (const s of r.standbys) console.log(`  standby ${s.name}: streams from ${to}, replay lag ${s.replayLagBytes} bytes`);
      return 0;
    });
  },
};
