/**
 * pg_waldump's lines, e.g. `rmgr: Transaction len (rec/tot): 34/34, tx: 739, lsn: 0/03000A28,
 * prev 0/030009F0, desc: COMMIT 2026-12-03 08:00:00.123456 UTC` or `rmgr: XLOG ..., tx: 0, lsn:
 * 0/03000100, prev ..., desc: RESTORE_POINT before_drop`.
 */
const LINE = /\btx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+), prev [0-9A-F]+\/[0-9A-F]+, desc: (.*)$/;

/** What a recovery to an xid (its 32 low bits, as recovery_target_xid keeps them) or a restore point stops at. */
export type StopRecord = { readonly xid: number } | { readonly restorePoint: string };

/** The LSNs of the records a recovery to `stop` would stop at: the transaction's commit, or the restore point. */
export function stopRecordLsns(output: string, stop: StopRecord): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, tx, lsn, desc] = m;
    const hit = 'xid' in stop ? Number(tx) === stop.xid && /^COMMIT( |$)/.test(desc) : desc === `RESTORE_POINT ${stop.restorePoint}`;
    if (hit) out.push(lsn);
  }
  return out;
}

/** The LSN of pg_waldump's complaint about a record it could not read (the end of readable WAL), if that is its complaint. */
export function unreadableAt(stderr: string): string | undefined {
  return /error in WAL record at ([0-9A-F]+\/[0-9A-F]+)/.exec(stderr)?.[1];
}
