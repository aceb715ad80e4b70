import type { RecoveryTarget } from '../spec/recovery-target';

/**
 * The `pgbackrest restore` options for a recovery target. A target other than the archive's end
 * promotes when reached (PostgreSQL's default is to pause, which leaves an unattended restore
 * waiting forever); `default` recovers to the end of the archive and promotes by itself.
 */
export function restoreTargetArgs(t: RecoveryTarget): string[] {
  switch (t.type) {
    case 'default':
      return [];
    case 'immediate':
      return ['--type=immediate', '--target-action=promote'];
    default:
      return [`--type=${t.type}`, `--target=${t.target}`, '--target-action=promote'];
  }
}

export interface CopyRestore {
  readonly dataDir: string;
  readonly port: number;
  readonly target: RecoveryTarget;
  /** The backup to restore; pgBackRest picks the newest fitting the target when absent. */
  readonly set?: string;
  /** Reuse the files in the data directory (`--delta`). */
  readonly delta: boolean;
  /** The repository to restore from (and, as pgBackRest repeats it in restore_command, to get WAL from); pgBackRest's choice when absent. */
  readonly repo?: number;
}

/**
 * `pgbackrest restore` arguments for a standalone copy on another host: into its own data
 * directory (pgBackRest repeats --pg1-path in the restore_command it writes), archiving off so
 * the copy never pushes WAL into the stanza's repository, its own port in postgresql.auto.conf
 * (read last, so it beats a postgresql.conf the restore brought), and no primary_conninfo: it
 * never streams.
 */
export function copyRestoreArgs(c: CopyRestore): string[] {
  return [
    `--pg1-path=${c.dataDir}`,
    c.delta ? '--delta' : '--no-delta',
    ...(c.repo !== undefined ? [`--repo=${c.repo}`] : []),
    ...(c.set ? [`--set=${c.set}`] : []),
    ...restoreTargetArgs(c.target),
    '--archive-mode=off',
    `--recovery-option=port=${c.port}`,
    '--log-level-console=detail',
    'restore',
  ];
}
