import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { follow } from '../client';
import { TASK_QUEUE } from '../paths';
import { BACKUP_TYPES, type BackupType, type RepoIndex, type Spec } from '../spec/schema';
import { backupWorkflowId } from '../workflow-ids';
import type { BackupOutcome, BackupRequest } from '../workflows/backup';
import { loadSpecs, repoOption, SPECS_OPTIONS, UsageError, withClient, type CliCommand } from './command';
import { runFleet } from './fleet-run';

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
export async function startBackup(client: Client, spec: Spec, type: BackupType, repo?: RepoIndex) {
  const request: BackupRequest = repo ? { type, repo } : { type };
  return client.workflow.start('backupStanza', {
    taskQueue: TASK_QUEUE,
    workflowId: `${backupWorkflowId(spec)}-manual-${new Date().toISOString().replace(/[:.]/g, '')}`,
    args: [spec, request],
    staticSummary: `${type} backup of stanza ${spec.stanza}${repo ? ` to repo${repo}` : ''} (manual)`,
  });
}

export const backupCommand: CliCommand = {
  usage: 'backup --spec FILE | --specs DIR --type full|diff|incr [--repo 1|2]',
  summary: 'take a backup now (skipped if one runs)',
  help: `Usage: stanzactl backup --spec FILE --type full|diff|incr [--repo 1|2]
       stanzactl backup --specs DIR --type full|diff|incr [--repo 1|2]

Runs workflow backupStanza (id backup-<stanza>@<repo>-manual-<time>): pgBackRest backup on the repository
host, detached, from a standby when backups.fromStandby says so. A backup of the stanza already
running (manual or scheduled) makes this one "skipped", with who runs since when. Exit 0 when the
backup was made or skipped, 1 when it failed. --repo 2 backs up to the spec's offsite: repository
(pgBackRest's repo2); the default is repo1, on the repository host.

--specs DIR backs up a fleet: each *.yaml, *.yml and *.json file directly in DIR is a spec. All are
validated first: one bad spec, or two naming the same stanza on the same repository host, refuses
the command (exit 2) naming each file and field, and no backup starts. Then every stanza's backup
starts at once and runs concurrently; it prints each one's workflow as it starts, one line per
stanza as its backup ends (made, skipped or FAILED with why) and a count. Exit 0 when every backup
was made or skipped, 1 when any failed.`,
  async run(args) {
    const { values } = parseArgs({ args, options: { ...SPECS_OPTIONS, type: { type: 'string' }, repo: { type: 'string' } }, strict: true });
    if (!BACKUP_TYPES.includes(values.type as BackupType)) throw new UsageError('--type must be full, diff or incr');
    const type = values.type as BackupType;
    const { fleet, specs } = loadSpecs(values);
    const repo = repoOption(values.repo, specs.map((s) => s.spec));
    return withClient('backup', async (client) => {
      if (fleet) {
        return runFleet(specs, async (spec, started) => {
          const handle = await startBackup(client, spec, type, repo);
          started(handle.workflowId);
          return { ok: true, line: describeOutcome((await handle.result()) as BackupOutcome)[0] };
        }, (l) => console.log(l));
      }
      const handle = await startBackup(client, specs[0].spec, type, repo);
      console.log(`workflow ${handle.workflowId}`);
      const outcome = await follow<BackupOutcome>(handle, (l) => console.log(l));
      for (const l of describeOutcome(outcome)) console.log(l);
      return 0;
    });
  },
};
