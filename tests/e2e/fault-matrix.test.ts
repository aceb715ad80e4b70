import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matrixTable, runFaultMatrix } from './fault-matrix';

// Every step of provision, backup, rebuild and recover, the worker SIGKILLed inside it and after it; the
// Temporal server SIGKILLed once in each workflow. The rows are the ones bench/fault-matrix.ts prints.
test('fault matrix: every step survives a worker crash at both points', { timeout: 30 * 60_000 }, async () => {
  const report = await runFaultMatrix(
    { a: ['stga', '10.231.161.0/24'], b: ['stgb', '10.231.162.0/24'], c: ['stgc', '10.231.163.0/24'] },
    (line) => console.log(line),
  );
  console.log(matrixTable(report));
  assert.deepEqual(report.rows.filter((r) => r.outcome !== 'ok'), []);
  assert.deepEqual(report.runProblems, []);
  assert.deepEqual(report.serverKills.filter((s) => s.outcome !== 'ok'), []);
  assert.equal(report.serverKills.length, 4);
  // Less rebuild's requireConfirmed at point a: it touches no host.
  assert.equal(report.rows.length, 2 * (17 + 4 + 11 + 15) - 1);
});
