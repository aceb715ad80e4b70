import { parseArgs } from 'node:util';
import { follow, startAlone } from '../client';
import { TASK_QUEUE } from '../paths';
import { loadSpec } from '../spec/load';
import { describeRecoveryTarget } from '../render/recover-plan';
import { parseRecoveryTarget } from '../spec/recovery-target';
import { backupLabelSchema, copyPlaceProblems, copyPlaceSchema, defaultCopyPlace } from '../spec/restore-copy';
import { planId, restoreFacts } from '../spec/confirmation';
import { restoreWorkflowId } from '../workflow-ids';
import type { RestoreResult } from '../workflows/restore';
import { repoOption, UsageError, withClient, type CliCommand } from './command';

export const restoreCommand: CliCommand = {
  usage: 'restore --spec FILE --to HOST',
  summary: 'restore a copy of the cluster to another host, to a point in time',
  help: `Usage: stanzactl restore --spec FILE --to HOST [--data-dir DIR] [--port N] [--set LABEL] [--repo 1|2]
                         [--type default|immediate|time|lsn|xid|name --target VALUE] [--yes]

Runs workflow restore-<stanza>@<repo>-<host>: restores a copy of the stanza's cluster from its repository
to HOST, which must not be one of the spec's nodes nor its repository host (refused, nothing
changed): the cluster itself is never touched. HOST is reached like the nodes, with the spec's ssh
settings (user, key; its host key must be in the spec's known_hosts file), and made able to use
the repository as provision makes a node (pgBackRest directories, SSH trust with the repository
host both ways, pgbackrest.conf for the stanza). The copy is restored (detached on HOST: a crashed
worker's retry re-attaches), started standalone on --port with archive_mode=off and no
primary_conninfo (it never archives into the repository, never streams), and promoted at the target.

  --data-dir DIR   default: "restore" beside the spec's data directory (e.g. /var/lib/postgresql/15/restore);
                   on a Debian layout the copy is cluster VERSION/<last component of DIR>
  --port N         default: the spec's postgres.port
  --set LABEL      the backup to restore (default: the newest that fits the target)
  --repo 1|2       the repository to restore from, WAL included (2: the spec's offsite:);
                   default: the first that holds a backup fitting the target
  --type, --target as pgbackrest restore means them (default: to the end of the archive)
  --yes            a data directory with files is refused without it; with it, reused (--delta)

Prints each step, then the backup used, the timeline, the last recovered transaction's time, the
WAL range replayed, and restore and recovery seconds.`,
  async run(args) {
    const { values } = parseArgs({
      args, strict: true,
      options: {
        spec: { type: 'string' }, to: { type: 'string' }, 'data-dir': { type: 'string' }, port: { type: 'string' }, set: { type: 'string' },
        type: { type: 'string' }, target: { type: 'string' }, yes: { type: 'boolean' }, repo: { type: 'string' },
      },
    });
    if (!values.spec || !values.to) throw new UsageError('--spec FILE and --to HOST are required');
    const parsed = parseRecoveryTarget(values.type, values.target);
    if ('error' in parsed) throw new UsageError(parsed.error);
    if (values.port !== undefined && !/^\d{1,5}$/.test(values.port)) throw new UsageError('--port must be a port number');
    if (values.set !== undefined && !backupLabelSchema.safeParse(values.set).success) throw new UsageError(`--set: ${JSON.stringify(values.set)} is not a pgBackRest backup label`);
    const spec = loadSpec(values.spec);
    const place = defaultCopyPlace(spec, values.to, { dataDir: values['data-dir'], port: values.port === undefined ? undefined : Number(values.port) });
    const bad = copyPlaceSchema.safeParse(place);
    if (!bad.success) throw new UsageError(bad.error.issues.map((i) => `--${i.path[0] === 'host' ? 'to' : i.path[0] === 'dataDir' ? 'data-dir' : 'port'}: ${i.message}`).join('\n'));
    const problems = copyPlaceProblems(spec, place);
    if (problems.length > 0) {
      console.error(`refused, nothing was done: ${problems.join('\n')}`);
      return 1;
    }
    const repo = repoOption(values.repo, [spec]);
    const asked = { place, target: parsed.target, set: values.set, reuse: values.yes ?? false, ...(repo ? { repo } : {}) };
    const request = { ...asked, confirm: planId(restoreFacts(spec, asked)) };
    return withClient('restore', async (client) => {
      const workflowId = restoreWorkflowId(spec, place.host);
      const handle = await startAlone(client, 'restoreToHost', {
        taskQueue: TASK_QUEUE, workflowId, args: [spec, request],
        staticSummary: `restore stanza ${spec.stanza} to ${place.host}:${place.dataDir}, to ${describeRecoveryTarget(parsed.target)}`,
      });
      if ('running' in handle) {
        console.error(`refused: a restore of stanza ${spec.stanza} to ${place.host} is already running: ${handle.running}`);
        return 1;
      }
      console.log(`workflow ${workflowId}: restore to ${place.host}:${place.dataDir} (port ${place.port}), to ${describeRecoveryTarget(parsed.target)}`);
      const r = await follow<RestoreResult>(handle, (l) => console.log(l));
      console.log('');
      console.log(`copy of stanza ${spec.stanza} on ${place.host}:${place.port} (${place.dataDir}) is up, promoted on timeline ${r.timeline}`);
      console.log(`  backup:           ${r.backupLabel ?? 'unknown'}${r.delta ? ' (delta restore)' : ''}`);
      console.log(`  last transaction: ${r.lastTransactionAt ?? 'none replayed after the backup'}`);
      console.log(`  WAL replayed:     ${r.walStart?.walFile ?? '?'} (${r.walStart?.lsn ?? '?'}) .. ${r.walEnd?.walFile ?? '?'} (${r.walEnd?.lsn ?? '?'})`);
      console.log(`  restore ${r.restoreSeconds.toFixed(1)} s, recovery ${r.recoverySeconds.toFixed(1)} s`);
      return 0;
    });
  },
};
