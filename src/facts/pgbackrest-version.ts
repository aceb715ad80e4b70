/** `pgbackrest version` prints `pgBackRest 2.45` (possibly `2.46dev`); returns `2.45`. */
export function parsePgbackrestVersion(out: string): string {
  const m = /^pgBackRest (\d+\.\d+(?:\.\d+)?(?:dev)?)\s*$/m.exec(out);
  if (!m) throw new Error(`unexpected output from "pgbackrest version": ${JSON.stringify(out.slice(0, 200))}`);
  return m[1];
}
