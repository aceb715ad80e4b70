import { performance } from 'node:perf_hooks';
import { startProvision } from '../src/client';
import { startBackup } from '../src/commands/backup';
import type { BackupType } from '../src/spec/schema';
import type { BackupOutcome } from '../src/workflows/backup';
import { ProvisionFixture } from '../tests/e2e/fixture';

/**
 * Backup workflow wall time minus a raw `pgbackrest backup` of the same data on the same lab, in
 * one run: the orchestration overhead (lock, source choice, detached start, polling, info, release).
 * Goal: <= 1.5 s. Usage: node dist/bench/backup.js [--runs N] [--type incr|diff|full]
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const runs = Number(arg('runs', '5'));
  const type = arg('type', 'incr') as BackupType;
  const f = new ProvisionFixture('debian', 'stzq', '10.231.61.0/24');
  try {
    await f.setUp();
    await (await startProvision(f.client, f.spec)).result();
    // Some data, so a backup copies something: 50 MB of rows, changed a little before each run.
    await f.checks.psql('pg1-srv', 'CREATE TABLE bench AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 600000) g');
    const raw: number[] = [];
    const workflow: number[] = [];
    for (let i = 0; i < runs; i++) {
      for (const side of i % 2 ? ['workflow', 'raw'] : ['raw', 'workflow']) {
        await f.checks.psql('pg1-srv', `UPDATE bench SET v = md5(v) WHERE id % 50 = ${i}`);
        const t0 = performance.now();
        if (side === 'raw') {
          await f.checks.pgbackrest(`--type=${type}`, 'backup');
          raw.push((performance.now() - t0) / 1000);
        } else {
          const o = (await (await startBackup(f.client, f.spec, type)).result()) as BackupOutcome;
          if (o.status !== 'done') throw new Error(`workflow backup ${o.status}`);
          workflow.push((performance.now() - t0) / 1000);
        }
      }
    }
    console.log(`${type} backups, ${runs} runs each, alternating order`);
    console.log('run  raw pgbackrest (s)  backup workflow (s)  overhead (s)');
    raw.forEach((r, i) => console.log(`${String(i + 1).padStart(3)}  ${r.toFixed(2).padStart(18)}  ${workflow[i].toFixed(2).padStart(19)}  ${(workflow[i] - r).toFixed(2).padStart(12)}`));
    console.log(`median  raw ${median(raw).toFixed(2)} s, workflow ${median(workflow).toFixed(2)} s, overhead ${(median(workflow) - median(raw)).toFixed(2)} s (goal <= 1.5 s)`);
  } finally {
    await f.teardown();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
