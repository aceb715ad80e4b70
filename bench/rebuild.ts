import { performance } from 'node:perf_hooks';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { startProvision } from '../src/client';
import { TASK_QUEUE } from '../src/paths';
import { rebuildWorkflowId, type RebuildResult } from '../src/workflows/rebuild';
import { ProvisionFixture } from '../tests/e2e/fixture';

/**
 * Rebuild of a standby holding about 1 GB after a small divergence: delta restore against a restore
 * into an empty data directory, in one run. Goal: delta <= 0.5x the full restore.
 * Usage: node dist/bench/rebuild.js [--scale 70] [--random-mb 0] [--runs 2]
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const scale = arg('scale', '70');
  const runs = Number(arg('runs', '2'));
  const randomMb = Number(arg('random-mb', '0'));
  const f = new ProvisionFixture('debian', 'stzv', '10.231.81.0/24');
  const pg2 = (script: string) => f.checks.sh('pg2-srv', ['bash', '-c', script]);
  const rebuild = async (): Promise<{ wall: number; r: RebuildResult }> => {
    const t0 = performance.now();
    const handle = await f.client.workflow.start('rebuildStandby', {
      taskQueue: TASK_QUEUE, workflowId: rebuildWorkflowId('demo', 'pg2-srv'), args: [f.spec, 'pg2-srv'], workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    });
    const r = (await handle.result()) as RebuildResult;
    return { wall: (performance.now() - t0) / 1000, r };
  };
  try {
    await f.setUp();
    await (await startProvision(f.client, f.spec)).result();
    const t0 = performance.now();
    await f.checks.sh('pg1-srv', ['/usr/lib/postgresql/15/bin/pgbench', '-i', '-q', '-s', scale, '-p', '5432', 'postgres'], 'postgres');
    // pgbench's rows compress to almost nothing; random bytes do not, as much real data does not.
    if (randomMb > 0) {
      await f.checks.psql('pg1-srv', `CREATE EXTENSION IF NOT EXISTS pgcrypto; CREATE TABLE noise AS SELECT gen_random_bytes(1024) AS b FROM generate_series(1, ${randomMb * 1000})`);
    }
    const size = await f.checks.psql('pg1-srv', 'SELECT pg_size_pretty(pg_database_size(current_database()))');
    await f.checks.pgbackrest('--type=full', 'backup');
    console.log(`pgbench scale ${scale} + ${randomMb} MB of random bytes: ${size}, loaded and backed up in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    await f.checks.rowReplicates(600_000);

    const delta: number[] = [];
    const full: number[] = [];
    for (let i = 0; i < runs; i++) {
      // A small divergence: the standby stops, the primary changes about 1% of the rows meanwhile.
      await pg2('pg_ctlcluster 15 main stop');
      await f.checks.psql('pg1-srv', `UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 100 = ${i}`);
      const d = await rebuild();
      if (!d.r.restore.delta) throw new Error('expected a delta restore');
      delta.push(d.r.restore.seconds);
      console.log(`run ${i + 1} delta: restore ${d.r.restore.seconds.toFixed(1)} s, rebuild workflow ${d.wall.toFixed(1)} s`);

      await pg2('pg_ctlcluster 15 main stop -m immediate && rm -rf /var/lib/postgresql/15/main');
      const e = await rebuild();
      if (e.r.restore.delta) throw new Error('expected a restore into an empty directory');
      full.push(e.r.restore.seconds);
      console.log(`run ${i + 1} empty: restore ${e.r.restore.seconds.toFixed(1)} s, rebuild workflow ${e.wall.toFixed(1)} s`);
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    console.log(`mean restore: delta ${(sum(delta) / runs).toFixed(1)} s, empty ${(sum(full) / runs).toFixed(1)} s, ratio ${(sum(delta) / sum(full)).toFixed(2)} (goal <= 0.5)`);
  } finally {
    await f.teardown();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
