/** `df -B1 --output=avail,size PATH` (GNU df; --output excludes -P): a header line, then available and total bytes. */
export function parseDfBytes(out: string): { available: number; size: number } {
  const m = /^\s*(\d+)\s+(\d+)\s*$/m.exec(out.split('\n').slice(1).join('\n'));
  if (!m) throw new Error(`unexpected output from df: ${JSON.stringify(out.slice(0, 200))}`);
  return { available: Number(m[1]), size: Number(m[2]) };
}

/** "0 B of 15.0 MiB free": what a DBA reads beside a failed write. */
export function describeFree(s: { available: number; size: number }): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const human = (n: number) => {
    let i = 0;
    for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
    return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
  };
  return `${human(s.available)} of ${human(s.size)} free`;
}
