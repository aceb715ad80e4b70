import { matrixTable, runFaultMatrix } from '../tests/e2e/fault-matrix';

/**
 * Prints the fault matrix (workflow x step x point, outcome, resume seconds) as the e2e test
 * fault-matrix.test.ts checks it. Usage: STANZACTL_TEST_SLOT=N node dist/bench/fault-matrix.js
 * Its labs use prefixes and subnets of their own, so it can run beside the test.
 */
async function main(): Promise<void> {
  const report = await runFaultMatrix(
    { a: ['stgd', '10.231.164.0/24'], b: ['stge', '10.231.165.0/24'], c: ['stgf', '10.231.166.0/24'] },
    (line) => console.error(line),
  );
  console.log(matrixTable(report));
  const bad = report.rows.some((r) => r.outcome !== 'ok') || report.runProblems.length > 0 || report.serverKills.some((s) => s.outcome !== 'ok');
  process.exitCode = bad ? 1 : 0;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
