/** What a restored, promoted cluster tells about the recovery it did (backup_label.old, timeline history). */

export interface WalPosition {
  readonly lsn: string;
  /** The WAL segment holding it, e.g. 000000010000000000000002. */
  readonly walFile: string;
}

/** `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)` of a backup_label (kept as backup_label.old after recovery). */
export function backupStart(label: string): WalPosition | undefined {
  const m = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+) \(file ([0-9A-F]{24})\)$/m.exec(label);
  return m ? { lsn: m[1], walFile: m[2] } : undefined;
}

/**
 * The last line of a timeline history file (`1\t0/5000100\tbefore 2026-...`): the timeline the
 * recovery replayed and where it switched to the new one, i.e. the end of the WAL it replayed.
 */
export function timelineSwitch(history: string): { timeline: number; lsn: string } | undefined {
  const lines = history.split('\n').filter((l) => /^\d+\s+[0-9A-F]+\/[0-9A-F]+/.test(l));
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  const [tli, lsn] = last.split(/\s+/);
  return { timeline: Number(tli), lsn };
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');

/** The WAL segment holding `lsn` on `timeline` (pg_walfile_name's rule), for 16 MiB segments by default. */
export function walFileName(timeline: number, lsn: string, segmentBytes = 16 * 1024 * 1024): string {
  return walSegments(timeline, lsn, lsn, segmentBytes)[0];
}

/** The WAL segments holding `from` to `to` on `timeline`, in order. */
export function walSegments(timeline: number, from: string, to: string, segmentBytes = 16 * 1024 * 1024): string[] {
  const seg = (lsn: string) => {
    const [hi, lo] = lsn.split('/').map((x) => BigInt(`0x${x}`));
    return ((hi << 32n) + lo) / BigInt(segmentBytes);
  };
  const perXlogId = 0x1_0000_0000n / BigInt(segmentBytes);
  const out: string[] = [];
  for (let s = seg(from); s <= seg(to); s++) out.push(`${hex8(timeline)}${hex8(Number(s / perXlogId))}${hex8(Number(s % perXlogId))}`);
  return out;
}
