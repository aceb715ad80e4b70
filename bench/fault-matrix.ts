import { parseArgs } from 'node:util';
import { matrixTable, runFaultMatrix, type MatrixLabs } from '../tests/e2e/fault-matrix';

const LABS: Required<MatrixLabs> = {
  debian: { a: ['stgd', '10.231.164.0/24'], b: ['stge', '10.231.165.0/24'], c: ['stgf', '10.231.166.0/24'] },
  systemd: { a: ['stgu', '10.231.169.0/24'], b: ['stgv', '10.231.170.0/24'] },
};

/**
 * Prints the fault matrix (hosts x workflow x step x point, outcome, resume seconds) as the e2e test
 * fault-matrix.test.ts checks it. Usage: STANZACTL_TEST_SLOT=N node dist/bench/fault-matrix.js
 * [--hosts debian|systemd-pgdg] (one part of it alone; both by default).
 * Its labs use prefixes and subnets of their own, so it can run beside the test.
 */
async function main(): Promise<void> {
  const { hosts } = parseArgs({ options: { hosts: { type: 'string' } } }).values;
  const parts: Record<string, MatrixLabs> = { debian: { debian: LABS.debian }, 'systemd-pgdg': { systemd: LABS.systemd } };
  const labs = hosts === undefined ? LABS : parts[hosts];
  if (!labs) throw new Error(`--hosts takes ${Object.keys(parts).join(' or ')}, not ${hosts}`);
  const report = await runFaultMatrix(labs, (line) => console.error(line));
  console.log(matrixTable(report));
  const bad = report.rows.some((r) => r.outcome !== 'ok') || report.runProblems.length > 0 || report.serverKills.some((s) => s.outcome !== 'ok');
  process.exitCode = bad ? 1 : 0;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
