import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { follow } from '../client';
import { TASK_QUEUE } from '../paths';
import { loadSpec } from '../spec/load';
import { BACKUP_TYPES, type BackupType, type Spec } from '../spec/schema';
import { backupWorkflowId } from '../workflow-ids';
import type { BackupOutcome } from '../workflows/backup';
import { UsageError, withClient, type CliCommand } from './command';

export function describeOutcome(o: BackupOutcome): string[] {
  if (o.status === 'skipped') return [`backup skipped: ${o.reason}`];
  const b = o.backup;
  return [
    `${b.type} backup ${b.label} in ${o.seconds.toFixed(1)} s`,
    `  database ${b.databaseSize} bytes, copied ${b.deltaSize} bytes, repository ${b.repoSize} bytes (this backup ${b.repoDeltaSize})`,
    `  WAL ${b.walStart} .. ${b.walStop}`,
    `  copied from ${o.source.role} ${o.source.node} (${o.source.why})${o.source.copiedFrom.length ? `; pgBackRest read files from ${o.source.copiedFrom.join(', ')}` : ''}`,
  ];
}

/** Manual runs get an id of their own each; the stanza's backup lock keeps them from overlapping. */
export async function startBackup(client: Client, spec: Spec, type: BackupType) {
  return client.workflow.start('backupStanza', {
    taskQueue: TASK_QUEUE,
    workflowId: `${backupWorkflowId(spec)}-manual-${new Date().toISOString().replace(/[:.]/g, '')}`,
    args: [spec, { type }],
    staticSummary: `${type} backup of stanza ${spec.stanza} (manual)`,
  });
}

export const backupCommand: CliCommand = {
  usage: 'backup --spec FILE --type full|diff|incr',
  summary: 'take a backup now (skipped if one runs)',
  help: `Usage: stanzactl backup --spec FILE --type full|diff|incr

Runs workflow backupStanza (id backup-<stanza>@<repo>-manual-<time>): pgBackRest backup on the repository
host, detached, from a standby when backups.fromStandby says so. A backup of the stanza already
running (manual or scheduled) makes this one "skipped", with who runs since when. Exit 0 when the
backup was made or skipped, 1 when it failed.`,
  async run(args) {
    const { values } = parseArgs({ args, options: { spec: { type: 'string' }, type: { type: 'string' } }, strict: true });
    if (!values.spec) throw new UsageError('--spec FILE is required');
    if (!BACKUP_TYPES.includes(values.type as BackupType)) throw new UsageError('--type must be full, diff or incr');
    const spec = loadSpec(values.spec);
    return withClient('backup', async (client) => {
      const handle = await startBackup(client, spec, values.type as BackupType);
      console.log(`workflow ${handle.workflowId}`);
      const outcome = await follow<BackupOutcome>(handle, (l) => console.log(l));
      for (const l of describeOutcome(outcome)) console.log(l);
      return 0;
    });
  },
};
