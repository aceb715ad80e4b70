/** What `pgbackrest backup|restore --log-level-console=detail` prints that stanzactl reads. */

/** `new backup label = 20210114-160602F`: the label of the backup this run made. */
export function newBackupLabel(output: string): string | undefined {
  return /new backup label = (\S+)/.exec(output)?.[1];
}

/** The last `backup|restore file path (size, NN.NN%)` line's percent: how far the copy is. */
export function copyPercent(output: string): number | undefined {
  const all = [...output.matchAll(/(?:backup|restore) file \S+ \([^)]*?([\d.]+)%\)/g)];
  return all.length ? Number(all[all.length - 1][1]) : undefined;
}

/** The host part of `backup file HOST:/path` lines: where the data files were copied from. */
export function copiedFrom(output: string): string[] {
  return [...new Set([...output.matchAll(/backup file ([^\s:]+):\//g)].map((m) => m[1]))];
}
