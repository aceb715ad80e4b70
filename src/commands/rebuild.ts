import { parseArgs } from 'node:util';
import { follow, startAlone } from '../client';
import { TASK_QUEUE } from '../paths';
import { loadSpec } from '../spec/load';
import type { Spec } from '../spec/schema';
import type { DeltaBy } from '../activities/standby';
import { REJOINED, type RejoinPolicy } from '../facts/rewind';
import { planId, rebuildFacts } from '../spec/confirmation';
import { rebuildWorkflowId } from '../workflow-ids';
import type { RebuildResult } from '../workflows/rebuild';
import { UsageError, withClient, type CliCommand } from './command';
import { typed } from './confirm';

const confirmed = (spec: Spec, node: string): Promise<boolean> =>
  typed(`Rebuild ${node} of stanza ${spec.stanza}: its data directory ${spec.postgres.dataDir} will be replaced from the repository.\nType the node name to go on: `, node);

export const rebuildCommand: CliCommand = {
  usage: 'rebuild --spec FILE --node NAME [--yes]',
  summary: 'rebuild a failed standby from the repository',
  help: `Usage: stanzactl rebuild --spec FILE --node NAME [--yes] [--delta-by checksum|timestamp] [--method auto|rewind|restore]

Runs workflow rebuild-<stanza>@<repo>-<node>: refuses (from what the hosts say) to touch the primary or a
node other standbys stream from, or to run without a healthy primary; stops the node, ensures its
config, .pgpass, pgbackrest.conf and SSH trust, brings it back, starts it, and waits until it
streams and has replayed a row written on the primary after that. An old primary that forked from
the primary (a failover's) is started as it is when nothing forked, else rewound by pg_rewind
where that beats a restore (a cluster of 1 GiB or more, at most half of it copied; --method rewind:
whenever pg_rewind can); any other node, and every node with --method restore, is restored from
the repository (--delta when its files are there). The result says which and why. Asks for confirmation on a terminal unless --yes. One rebuild per node at a time.
--delta-by timestamp compares files by size and time only (pgBackRest --delta --force): faster on
large data directories, but it cannot see silent corruption; the default reads and checksums every file.`,
  async run(args) {
    const { values } = parseArgs({ args, options: { spec: { type: 'string' }, node: { type: 'string' }, yes: { type: 'boolean' }, 'delta-by': { type: 'string' }, method: { type: 'string' } }, strict: true });
    if (!values.spec || !values.node) throw new UsageError('--spec FILE and --node NAME are required');
    const deltaBy = (values['delta-by'] ?? 'checksum') as DeltaBy;
    if (deltaBy !== 'checksum' && deltaBy !== 'timestamp') throw new UsageError('--delta-by must be checksum or timestamp');
    const method = (values.method ?? 'auto') as RejoinPolicy;
    if (!['auto', 'rewind', 'restore'].includes(method)) throw new UsageError('--method must be auto, rewind or restore');
    const spec = loadSpec(values.spec);
    const node = values.node;
    if (!values.yes) {
      if (!process.stdin.isTTY) throw new UsageError('not a terminal to confirm on: pass --yes to rebuild without asking');
      if (!(await confirmed(spec, node))) {
        console.error('not confirmed: nothing was done');
        return 1;
      }
    }
    return withClient('rebuild', async (client) => {
      const workflowId = rebuildWorkflowId(spec, node);
      const handle = await startAlone(client, 'rebuildStandby', {
        taskQueue: TASK_QUEUE, workflowId, args: [spec, node, { deltaBy, ...(method !== 'auto' && { method }), confirm: planId(rebuildFacts(spec, node)) }],
        staticSummary: `rebuild standby ${node} of stanza ${spec.stanza}`,
      });
      if ('running' in handle) {
        console.error(`refused: a rebuild of ${node} is already running: ${handle.running}`);
        return 1;
      }
      console.log(`workflow ${workflowId}`);
      const r = await follow<RebuildResult>(handle, (l) => console.log(l));
      console.log('');
      const how = r.method === 'rewind' || r.method === 'follow' ? REJOINED[r.method] : `${r.restore.delta ? `delta (by ${r.restore.deltaBy}) ` : ''}restore`;
      console.log(`${node} rebuilt: ${how} in ${r.restore.seconds.toFixed(1)} s, replay lag ${r.replayLagBytes} bytes`);
      if (r.why) console.log(`  why: ${r.why}`);
      console.log(`  found broken: ${r.broken.length ? r.broken.join('; ') : 'nothing (it looked healthy)'}`);
      return 0;
    });
  },
};
