import { labExec, REPOSITORY_HOST, type Lab } from '../../dev/lab';

/**
 * Every pgBackRest backup running on the repository host, by stanza: the main process of each (its
 * local workers say `backup:local`), sampled from the host's process table.
 */
export const BACKUPS_RUNNING = `ps -eo args= | awk '$1 ~ /pgbackrest$/ && / backup( |$)/ { if (match($0, /--stanza=[^ ]+/)) print substr($0, RSTART + 9, RLENGTH - 9) }'`;

export interface BackupsSeen {
  /** The most backups seen running at once. */
  most: number;
  /** Every stanza seen backing up. */
  seen: Set<string>;
  samples: number;
}

/** The stanzas backing up on the lab's repository host now (through its namespaces, no SSH). */
export async function backupsRunning(lab: Lab): Promise<string[]> {
  return (await labExec(lab, REPOSITORY_HOST, ['bash', '-c', BACKUPS_RUNNING])).stdout.split('\n').filter(Boolean);
}

/** Samples the repository host's process table every `everyMs` while `during` runs. */
export async function sampleBackups<T>(lab: Lab, during: () => Promise<T>, everyMs = 200): Promise<BackupsSeen & { result: T }> {
  let on = true;
  const s: BackupsSeen = { most: 0, seen: new Set(), samples: 0 };
  const sampler = (async () => {
    while (on) {
      const stanzas = new Set(await backupsRunning(lab));
      s.samples++;
      s.most = Math.max(s.most, stanzas.size);
      for (const x of stanzas) s.seen.add(x);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  let result: T;
  try {
    result = await during();
  } finally {
    // The sample in flight still counts.
    on = false;
    await sampler;
  }
  return { ...s, result };
}
