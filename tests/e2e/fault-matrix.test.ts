import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matrixTable, runFaultMatrix } from './fault-matrix';

// Every step of provision, backup, rebuild, recover, switchover and failover, and those a rebuild
// takes only to rejoin a forked old primary, the worker SIGKILLed inside it and after it; on
// systemd hosts, every step that starts, stops, restarts or reloads a server; the Temporal server
// SIGKILLed once in each workflow. The rows are the ones bench/fault-matrix.ts prints.
test('fault matrix: every step survives a worker crash at both points', { timeout: 45 * 60_000 }, async () => {
  const report = await runFaultMatrix(
    {
      debian: { a: ['stga', '10.231.161.0/24'], b: ['stgb', '10.231.162.0/24'], c: ['stgc', '10.231.163.0/24'] },
      systemd: { a: ['stgs', '10.231.167.0/24'], b: ['stgt', '10.231.168.0/24'] },
    },
    (line) => console.log(line),
  );
  console.log(matrixTable(report));
  assert.deepEqual(report.rows.filter((r) => r.outcome !== 'ok'), []);
  assert.deepEqual(report.runProblems, []);
  assert.deepEqual(report.serverKills.filter((s) => s.outcome !== 'ok'), []);
  assert.equal(report.serverKills.length, 5);
  // Debian: less rebuild's requireConfirmed at point a, it touches no host; the rejoin's three steps.
  // Systemd: two steps each of provision, rebuild and recover.
  const rows = (layout: string) => report.rows.filter((r) => r.layout === layout).length;
  assert.deepEqual([rows('debian'), rows('systemd-pgdg')], [2 * (17 + 5 + 14 + 15 + 17 + 15 + 3) - 1, 2 * (2 + 2 + 2)]);
});
