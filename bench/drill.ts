import { performance } from 'node:perf_hooks';
import { startProvision } from '../src/client';
import { labExec } from '../dev/lab';
import { TASK_QUEUE } from '../src/paths';
import type { Spec } from '../src/spec/schema';
import type { DrillOutcome } from '../src/workflows/drill';
import { ProvisionFixture } from '../tests/e2e/fixture';

/**
 * Drill RTO against the same restore + start done by hand on the same lab: the restoreDrill
 * workflow's RTO (restore start to accepting connections) and a DBA's `pgbackrest restore`,
 * `pg_ctlcluster start` and a poll until the copy is out of recovery, run over nsenter (no SSH,
 * no workflow), into a second data directory on the scratch host. Both restore the same newest
 * backup to the end of the archive into an empty directory.
 * Usage: STANZACTL_TEST_SLOT=N node dist/bench/drill.js [--scale 70] [--runs 2]
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const MANUAL = { cluster: 'byhand', dataDir: '/var/lib/postgresql/15/byhand', port: 5434 };

// What the DBA types once before timing starts, as the drill's "prepare" step does before its RTO:
// a cluster config of its own (Debian layout), an empty data directory.
const PREPARE = `set -e
pg_lsclusters -h | grep -q '^15 ${MANUAL.cluster} ' || pg_createcluster 15 ${MANUAL.cluster} -d ${MANUAL.dataDir} -p ${MANUAL.port} >/dev/null
pg_ctlcluster 15 ${MANUAL.cluster} stop 2>/dev/null || true
runuser -u postgres -- find ${MANUAL.dataDir} -mindepth 1 -delete`;

// Timed: restore (no archiving from the copy), start, wait until it has promoted and takes connections.
const BY_HAND = `set -e
runuser -u postgres -- pgbackrest --stanza=demo --pg1-path=${MANUAL.dataDir} --archive-mode=off restore >/dev/null
pg_ctlcluster 15 ${MANUAL.cluster} start
until [ "$(runuser -u postgres -- psql -XAtp ${MANUAL.port} -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do sleep 0.1; done`;

async function main(): Promise<void> {
  const scale = arg('scale', '70');
  const runs = Number(arg('runs', '2'));
  const f = new ProvisionFixture('debian', 'stwc', '10.231.218.0/24');
  const scratch = async (script: string) => {
    const r = await labExec(f.lab, f.scratch.name, ['bash', '-c', script]);
    if (r.code !== 0) throw new Error(`${f.scratch.name}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  try {
    await f.setUp();
    const spec: Spec = { ...f.spec, drills: { host: f.scratch.ip, dataDir: '/var/lib/postgresql/15/drill', port: 5433 } };
    await (await startProvision(f.client, f.spec)).result();
    const t0 = performance.now();
    await f.checks.sh('pg1-srv', ['/usr/lib/postgresql/15/bin/pgbench', '-i', '-q', '-s', scale, '-p', '5432', 'postgres'], 'postgres');
    const size = await f.checks.psql('pg1-srv', 'SELECT pg_size_pretty(pg_database_size(current_database()))');
    // pgbench's WAL may still be on its way to the archive on a loaded machine: the backup waits for it.
    await f.checks.pgbackrest('--type=full', '--archive-timeout=600', 'backup');
    console.log(`pgbench scale ${scale}: ${size}, loaded and backed up in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

    const drill: number[] = [];
    const hand: number[] = [];
    for (let i = 0; i < runs; i++) {
      const w0 = performance.now();
      const handle = await f.client.workflow.start('restoreDrill', { taskQueue: TASK_QUEUE, workflowId: `drill-demo-bench-${i}`, args: [spec] });
      const o = (await handle.result()) as DrillOutcome;
      if (!o.drill.ok || o.drill.rtoSeconds === null) throw new Error(`drill failed: ${o.drill.failure}`);
      drill.push(o.drill.rtoSeconds);
      const slow = o.steps.map((s) => [s.name, ((s.endedAt ?? s.startedAt) - s.startedAt) / 1000] as const).filter(([, t]) => t >= 1);
      console.log(`run ${i + 1} drill: RTO ${o.drill.rtoSeconds.toFixed(1)} s, RPO ${o.drill.rpoSeconds} s, whole drill ${((performance.now() - w0) / 1000).toFixed(1)} s; steps over 1 s: ${slow.map(([n, t]) => `${n} ${t.toFixed(1)} s`).join(', ')}`);

      // The drill made the scratch host able to restore the stanza (pgbackrest.conf, trust): the hand run uses that.
      await scratch(PREPARE);
      const h0 = performance.now();
      await scratch(BY_HAND);
      const seconds = (performance.now() - h0) / 1000;
      hand.push(seconds);
      await scratch(`pg_ctlcluster 15 ${MANUAL.cluster} stop -m fast`);
      console.log(`run ${i + 1} by hand: restore + start + accepting connections ${seconds.toFixed(1)} s`);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`mean RTO: drill ${mean(drill).toFixed(1)} s, by hand ${mean(hand).toFixed(1)} s, ratio ${(mean(drill) / mean(hand)).toFixed(2)} (${size}, ${runs} runs)`);
  } finally {
    await f.teardown();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
