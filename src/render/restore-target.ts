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
