import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { startProvision } from '../src/client';
import { labExec } from '../dev/lab';
import { withoutTuning } from '../tests/e2e/cluster-checks';
import { ProvisionFixture } from '../tests/e2e/fixture';

/**
 * stanzactl's pgBackRest settings against the seed's (gz, one process, synchronous archiving), on
 * one lab in one run: full backup, restore into an empty directory, WAL archived under a pgbench
 * write load. Goal: full backup <= 0.5x the seed's time, restore no slower.
 * Usage: node dist/bench/speed.js [--scale 70] [--runs 2] [--load-seconds 30]
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

type Side = 'seed' | 'stanzactl';
const SEGMENT = 16 * 1024 * 1024;
const RESTORE_DIR = '/var/lib/postgresql/bench-restore';
const WAL_SCRIPT = '/tmp/bench-wal.sql';
const WAL_ROWS = 20_000;

const seconds = (t0: number) => (performance.now() - t0) / 1000;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.floor((s.length - 1) / 2)] + s[Math.ceil((s.length - 1) / 2)]) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const scale = arg('scale', '70');
  const runs = Number(arg('runs', '2'));
  const loadSeconds = arg('load-seconds', '30');
  const f = new ProvisionFixture('debian', 'stlc', '10.231.193.0/24');
  const hosts = () => ['backup-srv', ...f.spec.nodes.map((n) => n.name)];
  const pg1 = (sql: string) => f.checks.psql('pg1-srv', sql);
  const tuned: Record<string, string> = {};
  // Each side's settings on every host: stanzactl's files as provision wrote them, or the same without its tuning.
  const use = async (side: Side) => {
    await Promise.all(hosts().map((h) => f.checks.setPgbackrestConf(h, side === 'stanzactl' ? tuned[h] : withoutTuning(tuned[h]))));
  };
  const timed = async (what: () => Promise<unknown>) => {
    // The last run's gigabyte still being written back would slow whichever side comes next.
    await f.checks.sh('backup-srv', ['sync']);
    const t0 = performance.now();
    await what();
    return seconds(t0);
  };
  try {
    await f.setUp();
    await (await startProvision(f.client, f.spec)).result();
    for (const h of hosts()) tuned[h] = await f.checks.pgbackrestConf(h);
    const t0 = performance.now();
    await f.checks.sh('pg1-srv', [`${f.spec.postgres.binDir}/pgbench`, '-i', '-q', '-s', scale, '-p', String(f.spec.postgres.port), 'postgres'], f.spec.postgres.osUser);
    const size = await pg1('SELECT pg_size_pretty(pg_database_size(current_database()))');
    console.log(`pgbench scale ${scale}: database ${size}, loaded in ${seconds(t0).toFixed(0)} s; ${runs} runs, order alternating; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`stanzactl's settings on the repository host:\n  ${tuned['backup-srv'].split('\n').filter((l) => /^(compress|process-max|repo1-bundle)/.test(l)).join(', ')}`);

    const times: Record<Side, { backup: number[]; restore: number[]; size: number[] }> = {
      seed: { backup: [], restore: [], size: [] }, stanzactl: { backup: [], restore: [], size: [] },
    };
    for (let i = 0; i < runs; i++) {
      const order: Side[] = i % 2 === 0 ? ['seed', 'stanzactl'] : ['stanzactl', 'seed'];
      const labels = {} as Record<Side, string>;
      for (const side of order) {
        await use(side);
        const t = await timed(() => f.checks.pgbackrest('--type=full', 'backup'));
        const info = JSON.parse(await f.checks.pgbackrest('info', '--output=json')) as { name: string; backup: { label: string; info: { repository: { delta: number } } }[] }[];
        const b = info.find((s) => s.name === f.spec.stanza)!.backup.at(-1)!;
        labels[side] = b.label;
        times[side].backup.push(t);
        times[side].size.push(b.info.repository.delta);
        console.log(`run ${i + 1} ${side.padEnd(9)} full backup ${t.toFixed(1)} s, ${(b.info.repository.delta / 1e6).toFixed(0)} MB in the repository (${b.label})`);
      }
      for (const side of order) {
        await use(side);
        // Into an empty directory on a standby's host, with that host's settings (process-max).
        const restore = `set -eu; rm -rf ${RESTORE_DIR}; mkdir -m 700 ${RESTORE_DIR}; pgbackrest --stanza=${f.spec.stanza} --set=${labels[side]} --pg1-path=${RESTORE_DIR} --archive-mode=off restore`;
        const t = await timed(() => f.checks.sh('pg2-srv', ['bash', '-c', restore], f.spec.postgres.osUser));
        await f.checks.sh('pg2-srv', ['rm', '-rf', RESTORE_DIR], f.spec.postgres.osUser);
        times[side].restore.push(t);
        console.log(`run ${i + 1} ${side.padEnd(9)} restore ${t.toFixed(1)} s`);
      }
    }

    // Archiving under a write load that makes WAL faster than one archive_command per segment
    // ships it: each pgbench transaction rewrites a 10 MB table (HOT updates, so it hardly grows).
    // Measured: WAL the primary made, segments the archiver acknowledged, and how long the
    // backlog took to drain once the load stopped.
    await pg1(`CREATE TABLE bench_wal (id int PRIMARY KEY, n int, pad text) WITH (fillfactor = 45);
      INSERT INTO bench_wal SELECT g, 0, repeat('x', 400) FROM generate_series(1, ${WAL_ROWS}) g`);
    const w = await labExec(f.lab, 'pg1-srv', ['bash', '-c', `cat > ${WAL_SCRIPT} && chmod 644 ${WAL_SCRIPT}`], { input: 'UPDATE bench_wal SET n = n + 1;\n' });
    if (w.code !== 0) throw new Error(`cannot write ${WAL_SCRIPT}: ${w.stderr}`);
    const wal: Record<Side, string> = { seed: '', stanzactl: '' };
    for (const side of ['seed', 'stanzactl'] as const) {
      await use(side);
      await pg1('SELECT pg_switch_wal()');
      await pg1('CHECKPOINT');
      const [lsn0, count0] = (await pg1('SELECT pg_current_wal_lsn(), archived_count FROM pg_stat_archiver')).split('|');
      const load = performance.now();
      await f.checks.sh('pg1-srv', [`${f.spec.postgres.binDir}/pgbench`, '-n', '-c', '2', '-T', loadSeconds, '-f', WAL_SCRIPT, '-p', String(f.spec.postgres.port), 'postgres'], f.spec.postgres.osUser);
      const loadS = seconds(load);
      const [madeBytes, archived, ready] = (await pg1(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${lsn0}'), archived_count - ${count0},
        (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') FROM pg_stat_archiver`)).split('|').map(Number);
      const drain = performance.now();
      while (Number(await pg1("SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'")) > 0) {
        if (seconds(drain) > 600) throw new Error(`${side}: WAL still waiting to be archived 600 s after the load`);
        await sleep(250);
      }
      const made = madeBytes / SEGMENT;
      wal[side] = `${(made / loadS).toFixed(2)} segments/s made, ${(archived / loadS).toFixed(2)} archived/s during the load (${archived} of ${made.toFixed(1)}), ` +
        `${ready} waiting at its end, drained in ${seconds(drain).toFixed(1)} s`;
      console.log(`${side.padEnd(9)} pgbench ${loadSeconds} s: ${wal[side]}`);
    }

    const m = (side: Side, k: 'backup' | 'restore' | 'size') => median(times[side][k]);
    console.log('\n| | seed (gz, process-max 1, sync archiving) | stanzactl | ratio |');
    console.log('|---|---|---|---|');
    console.log(`| full backup, median s | ${m('seed', 'backup').toFixed(1)} | ${m('stanzactl', 'backup').toFixed(1)} | ${(m('stanzactl', 'backup') / m('seed', 'backup')).toFixed(2)} (goal <= 0.5) |`);
    console.log(`| repository size, MB | ${(m('seed', 'size') / 1e6).toFixed(0)} | ${(m('stanzactl', 'size') / 1e6).toFixed(0)} | ${(m('stanzactl', 'size') / m('seed', 'size')).toFixed(2)} |`);
    console.log(`| restore into an empty directory, median s | ${m('seed', 'restore').toFixed(1)} | ${m('stanzactl', 'restore').toFixed(1)} | ${(m('stanzactl', 'restore') / m('seed', 'restore')).toFixed(2)} (goal <= 1) |`);
    console.log(`| WAL under pgbench -c 2 -T ${loadSeconds}, each transaction rewriting ${WAL_ROWS} rows | ${wal.seed} | ${wal.stanzactl} | |`);
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (both sides share the machine's load)`);
  } finally {
    await f.teardown();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
