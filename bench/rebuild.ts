import { performance } from 'node:perf_hooks';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { startProvision } from '../src/client';
import type { DeltaBy } from '../src/activities/standby';
import { TASK_QUEUE } from '../src/paths';
import { rebuildWorkflowId } from '../src/workflow-ids';
import type { RebuildResult } from '../src/workflows/rebuild';
import { ProvisionFixture } from '../tests/e2e/fixture';
import { confirmedRebuild } from '../tests/e2e/confirmed';

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
  const rebuild = async (deltaBy: DeltaBy): Promise<{ wall: number; r: RebuildResult }> => {
    const t0 = performance.now();
    const handle = await f.client.workflow.start('rebuildStandby', {
      taskQueue: TASK_QUEUE, workflowId: rebuildWorkflowId(f.spec, 'pg2-srv'), args: [f.spec, 'pg2-srv', { deltaBy, confirm: confirmedRebuild(f.spec, 'pg2-srv') }], workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    });
    const r = (await handle.result()) as RebuildResult;
    const slow = r.steps.map((s) => [s.name, ((s.endedAt ?? s.startedAt) - s.startedAt) / 1000] as const).filter(([, t]) => t >= 1);
    console.log(`  steps over 1 s: ${slow.map(([n, t]) => `${n} ${t.toFixed(1)} s`).join(', ')}`);
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

    const times: Record<'checksum' | 'timestamp' | 'empty', number[]> = { checksum: [], timestamp: [], empty: [] };
    for (let i = 0; i < runs; i++) {
      for (const deltaBy of ['checksum', 'timestamp'] as const) {
        // A recent backup, then a small divergence: the standby stops, the primary goes on writing
        // a little (a few pages of one table) until the rebuild.
        await f.checks.rowReplicates(600_000);
        await f.checks.pgbackrest('--type=incr', 'backup');
        await pg2('pg_ctlcluster 15 main stop');
        await f.checks.psql('pg1-srv', `UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 10000 + ${i}`);
        const d = await rebuild(deltaBy);
        if (!d.r.restore.delta) throw new Error('expected a delta restore');
        times[deltaBy].push(d.r.restore.seconds);
        console.log(`run ${i + 1} delta by ${deltaBy}: restore ${d.r.restore.seconds.toFixed(1)} s, rebuild workflow ${d.wall.toFixed(1)} s`);
      }
      await pg2('pg_ctlcluster 15 main stop -m immediate && rm -rf /var/lib/postgresql/15/main');
      const e = await rebuild('checksum');
      if (e.r.restore.delta) throw new Error('expected a restore into an empty directory');
      times.empty.push(e.r.restore.seconds);
      console.log(`run ${i + 1} empty: restore ${e.r.restore.seconds.toFixed(1)} s, rebuild workflow ${e.wall.toFixed(1)} s`);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`mean restore: empty ${mean(times.empty).toFixed(1)} s; delta by checksum ${mean(times.checksum).toFixed(1)} s (ratio ${(mean(times.checksum) / mean(times.empty)).toFixed(2)}); ` +
      `delta by timestamp ${mean(times.timestamp).toFixed(1)} s (ratio ${(mean(times.timestamp) / mean(times.empty)).toFixed(2)}); goal <= 0.5`);
  } finally {
    await f.teardown();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
