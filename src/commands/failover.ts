import { parseArgs } from 'node:util';
import { REJOINED } from '../facts/rewind';
import type { FailoverPlan } from '../activities/failover';
import { loadSpec } from '../spec/load';
import type { Spec } from '../spec/schema';
import { failoverFacts, planId } from '../spec/confirmation';
import { failoverWorkflowId } from '../workflow-ids';
import type { FailoverRequest, FailoverResult } from '../workflows/failover';
import { UsageError, withClient, type CliCommand } from './command';
import { plannedRun } from './planned-run';

const FENCE: Record<FailoverPlan['fence'], string> = {
  stop: 'runs as a primary: stopped first (--fence stop), a standby.signal written and its systemd unit disabled, so it cannot start as a primary again',
  signal: 'is stopped: a standby.signal is written (and its systemd unit disabled) so it cannot start as a primary again',
  unreachable: 'is unreachable: it cannot be fenced. Make sure it cannot start as a primary before it comes back',
};

function describePlan(spec: Spec, p: FailoverPlan): string[] {
  const positions = p.positions.map((s) => `${s.name} received ${s.receiveLsn ?? '?'}, replayed ${s.replayLsn ?? '?'}`).join('; ');
  return [
    `Fail stanza ${spec.stanza} over from ${p.primary} to ${p.to}:`,
    `  old       ${p.primary} (${p.primarySeenAs}) ${FENCE[p.fence]}; rejoin it later with "stanzactl rebuild --node ${p.primary}"`,
    `  new       ${p.to} is promoted to timeline ${p.timeline + 1} (standbys: ${positions})`,
    `  LOST      ${p.lost}`,
    `  standbys  ${p.standbys.length ? `${p.standbys.join(', ')} then stream from ${p.to}` : 'no other standby follows'}`,
    ...(p.rebuild.length ? [`  rebuild   ${p.rebuild.join(', ')} had WAL ${p.to} never received: rewound by pg_rewind where it can, else restored from the repository`] : []),
    `  backup    ${p.backup.type} on the new timeline (${p.backup.why})`,
    `  meanwhile backups, rebuilds and recovers of stanza ${spec.stanza} are refused (a scheduled backup is skipped, saying why)`,
  ];
}

export const failoverCommand: CliCommand = {
  usage: 'failover --spec FILE [--to NODE] [--fence stop] [--yes]',
  summary: 'promote a standby when the primary is dead or unreachable',
  help: `Usage: stanzactl failover --spec FILE [--to NODE] [--fence stop] [--yes]

The primary is dead or unreachable. First prints a plan read from the hosts (nothing changed): the
failed primary (the node that runs as one, else the one that is unreachable or was last shut down
as one), the standby to promote (the one that received the most WAL; --to overrides it, and the
plan says how many bytes that costs), what may be lost (the old primary's last known LSN against
the promoted one's, and the time of the last transaction it replayed), the standbys that follow
and those that must be rebuilt (they had WAL the new primary never received). Then asks for the
stanza's name on a terminal; without a terminal --yes is required.

Refused, changing nothing, while the old primary answers and runs as a primary: that is a
switchover, or a split brain in the making. --fence stop stops it first and keeps it from starting
as a primary again (a standby.signal in its data directory, its systemd unit disabled), reported.
A reachable old primary that is stopped is fenced the same way without asking; an unreachable one
cannot be, and the plan says so.

Runs workflow failover-<stanza>@<repo>: holds the stanza, fences the old primary, promotes the target,
waits for writes on the new timeline, points the other standbys at it, rebuilds those that forked,
rewrites pgbackrest.conf, runs pgbackrest check, takes a backup on the new timeline and waits until
every standby replays a marker row. The old primary stays fenced until "stanzactl rebuild --node
OLD" rejoins it as a standby. Every later command acts on the new primary with the spec unedited.`,
  async run(args) {
    const { values } = parseArgs({ args, options: { spec: { type: 'string' }, to: { type: 'string' }, fence: { type: 'string' }, yes: { type: 'boolean' } }, strict: true });
    if (!values.spec) throw new UsageError('--spec FILE is required');
    if (values.fence !== undefined && values.fence !== 'stop') throw new UsageError('--fence takes one value: stop');
    const spec = loadSpec(values.spec);
    const to = values.to;
    if (to !== undefined && !spec.nodes.some((n) => n.name === to)) throw new UsageError(`--to ${to}: not a node of the spec (${spec.nodes.map((n) => n.name).join(', ')})`);
    const request: FailoverRequest = { ...(to && { to }), ...(values.fence === 'stop' && { fence: 'stop' as const }) };
    return withClient('failover', async (client) => {
      const run = await plannedRun<FailoverPlan, FailoverResult>(client, {
        action: 'failover', spec, workflowId: failoverWorkflowId(spec), workflows: ['failoverPlan', 'failoverCluster'], request, yes: values.yes === true,
        describe: (p) => describePlan(spec, p),
        // The target the plan chose is the one confirmed: a standby that overtakes it meanwhile does not change the run.
        confirmed: (p) => ({ ...request, to: p.to, confirm: planId(failoverFacts(spec, p)) }),
        summary: (p) => `fail stanza ${spec.stanza} over from ${p.primary} to ${p.to}`,
      });
      if ('code' in run) return run.code;
      const r = run.result;
      console.log(`failover of stanza ${spec.stanza} done: ${r.plan.to} is the primary on timeline ${r.timeline} (was ${r.plan.timeline})`);
      console.log(`  ${r.fenced}`);
      console.log(`  lost: ${r.plan.lost}`);
      console.log(`  ${r.backup.type} backup ${r.backup.label} on the new timeline (${r.backup.why})`);
      for (const s of r.standbys) console.log(`  standby ${s.name}: ${s.method ? `${REJOINED[s.method]}, ` : ''}streams from ${r.plan.to}, replay lag ${s.replayLagBytes} bytes`);
      return 0;
    });
  },
};
