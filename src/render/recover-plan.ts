import type { RecoveryTarget } from '../spec/recovery-target';

/** A recovery target as a DBA reads it in a plan or a result. */
export function describeRecoveryTarget(t: RecoveryTarget): string {
  switch (t.type) {
    case 'default':
      return 'the end of the archive';
    case 'immediate':
      return 'the end of the backup (the earliest consistent point)';
    case 'time':
      return `time ${t.target}`;
    case 'lsn':
      return `LSN ${t.target}`;
    case 'xid':
      return `transaction ${t.target} (included)`;
    case 'name':
      return `restore point "${t.target}"`;
  }
}

// Settings that make a server follow another one; a recovered primary must not carry them, even
// commented back in by hand later (a backup taken from a standby holds its postgresql.auto.conf).
const STANDBY_SETTING = /^\s*(primary_conninfo|primary_slot_name)\s*=/;

/** postgresql.auto.conf with the standby settings commented out; the rest byte for byte. */
export function withoutStandbySettings(autoConf: string): string {
  return autoConf.split('\n').map((l) => (STANDBY_SETTING.test(l) ? `# ${l} # disabled by stanzactl recover: this server is the primary` : l)).join('\n');
}
