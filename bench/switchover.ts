/**
 * Switchover and failover on the lab, timed where a client sees it: by writers on the hosts.
 *
 *   npx tsc -p . && STANZACTL_TEST_SLOT=N node dist/bench/switchover.js [--runs N]     # as root; default 3
 *
 * One lab (Debian layout, prefix `stzw`, subnet `10.231.56.0/24`, moved by STANZACTL_TEST_SLOT),
 * provisioned. Each round:
 *
 * 1. `stanzactl switchover --to T --yes` from the primary P to a standby T;
 * 2. the same steps typed by hand over SSH, from T back to P (CHECKPOINT, `pg_ctlcluster 15 main
 *    stop -m fast`, pg_controldata's latest checkpoint, poll the target's pg_last_wal_replay_lsn()
 *    past it, `SELECT pg_promote()`), then `stanzactl provision` to make the other two nodes
 *    standbys of P again (it follows the primary the hosts show and restores the nodes that do not stream);
 * 3. P's postmaster SIGKILLed and its link cut, `stanzactl failover --yes`, then the link up and
 *    `stanzactl rebuild --node P --yes`.
 *
 * The unavailability window is measured by writer loops on the hosts themselves (bash, psql over
 * the local socket as postgres, one INSERT attempt about every 20 ms, each accepted INSERT's
 * server-side clock_timestamp() appended to a file): last write accepted on the old primary to
 * the first accepted on the new one, in the hosts' clock (the machine's: the lab hosts are
 * namespaces), so SSH latency does not enter it. Goal: stanzactl's window <= 1.2x the hand one and < 10 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { labExec, labSetLink } from '../dev/lab';
import { startProvision } from '../src/client';
import { projectRoot } from '../src/paths';
import { failoverWorkflowId, switchoverWorkflowId } from '../src/workflow-ids';
import type { FailoverResult } from '../src/workflows/failover';
import type { StepProgress } from '../src/workflows/progress';
import type { SwitchoverResult } from '../src/workflows/switchover';
import { ProvisionFixture } from '../tests/e2e/fixture';
import { guardedTeardown } from '../tests/e2e/harness';

const NODES = ['pg1-srv', 'pg2-srv', 'pg3-srv'];
const PG = { bin: '/usr/lib/postgresql/15/bin', data: '/var/lib/postgresql/15/main', port: '5432' };
const RATIO_GOAL = 1.2;
const WINDOW_GOAL_S = 10;

const progress = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${msg}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (t0: number) => (performance.now() - t0) / 1000;

function parseRuns(argv: string[]): number {
  if (argv.length === 0) return 3;
  const n = argv[0] === '--runs' && argv.length === 2 ? Number(argv[1]) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new Error('usage: node dist/bench/switchover.js [--runs N]');
  return n;
}

/** The writer started on each host: appends the epoch of every INSERT the server accepted. */
const WRITER = `
out=$1; stop=$2; me=$3
while [ ! -e "$stop" ]; do
  ${PG.bin}/psql -X -At -q -p ${PG.port} -d postgres -c "INSERT INTO stzw_writes (host) VALUES ('$me') RETURNING extract(epoch FROM clock_timestamp())" >>"$out" 2>/dev/null
  sleep 0.02
done`;

interface Written { host: string; at: number[] }

async function main(): Promise<void> {
  const runs = parseRuns(process.argv.slice(2));
  const f = new ProvisionFixture('debian', 'stzw', '10.231.56.0/24');
  const specDir = mkdtempSync(join(tmpdir(), 'stzw-spec-'));
  const specFile = join(specDir, 'spec.json');
  // Every command's output, kept for reading afterwards.
  const logDir = mkdtempSync(join(tmpdir(), 'stzw-bench-logs-'));
  let logged = 0;
  const clis = new Set<ChildProcess>();
  const writers = new Set<string>();
  const teardown = guardedTeardown(async () => {
    for (const c of clis) c.kill('SIGKILL');
    // Writers die with their host; stop them first all the same.
    await Promise.allSettled([...writers].map((w) => stopWriter(w)));
    await f.teardown();
    rmSync(specDir, { recursive: true, force: true });
  });

  const ip = (node: string) => f.spec.nodes.find((n) => n.name === node)!.host!;
  const sh = async (host: string, script: string, user?: string) => {
    const r = await labExec(f.lab, host, ['bash', '-c', script], { user });
    if (r.code !== 0) throw new Error(`${host}: ${script} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const psql = async (host: string, sql: string) => {
    const r = await labExec(f.lab, host, [`${PG.bin}/psql`, '-X', '-At', '-p', PG.port, '-d', 'postgres', '-c', sql], { user: 'postgres' });
    if (r.code !== 0) throw new Error(`${host}: ${sql}: exit ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const role = async (host: string) => (await psql(host, 'SELECT pg_is_in_recovery()').catch(() => 'down'));
  const primaries = async () => (await Promise.all(NODES.map(async (n) => ((await role(n)) === 'f' ? [n] : [])))).flat();

  /** The stanzactl CLI against the spec file, as a user runs it; killed on teardown. */
  const cli = (...args: string[]) => new Promise<{ code: number; out: string; seconds: number; startedAt: number }>((resolve) => {
    const startedAt = Date.now();
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(projectRoot(), 'bin', 'stanzactl.js'), ...args, '--spec', specFile], { env: { ...process.env, ...f.workerEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    clis.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (c) => { clis.delete(child); resolve({ code: c ?? -1, out, seconds: secs(t0), startedAt }); });
  });
  const mustCli = async (...args: string[]) => {
    const r = await cli(...args);
    writeFileSync(join(logDir, `${String(++logged).padStart(2, '0')}-${args[0]}.txt`), `stanzactl ${args.join(' ')}: exit ${r.code}, ${r.seconds.toFixed(1)} s\n${r.out}`);
    if (r.code !== 0) throw new Error(`stanzactl ${args.join(' ')} exited ${r.code}:\n${r.out}`);
    return r;
  };

  // Writers: one per host, detached from labExec (setsid, every fd redirected), stopped by a file.
  const files = (host: string) => ({ out: `/tmp/stzw-writer-${host}.out`, stop: `/tmp/stzw-writer-${host}.stop`, pid: `/tmp/stzw-writer-${host}.pid` });
  async function startWriter(host: string): Promise<void> {
    const p = files(host);
    await sh(host, `rm -f ${p.out} ${p.stop} ${p.pid}; install -m 644 -o postgres /dev/null ${p.out}`);
    writers.add(host);
    await sh(host, `setsid nohup runuser -u postgres -- bash -c '${WRITER.replace(/'/g, `'\\''`)}' writer ${p.out} ${p.stop} ${host} </dev/null >/dev/null 2>&1 & echo $! > ${p.pid}`);
  }
  async function stopWriter(host: string): Promise<Written> {
    const p = files(host);
    // The loop ends at its next check; wait for it (a psql in flight can take a moment).
    const out = await sh(host, `touch ${p.stop}; pid=$(cat ${p.pid}); for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; kill "$pid" 2>/dev/null; cat ${p.out}; rm -f ${p.out} ${p.stop} ${p.pid}`);
    writers.delete(host);
    return { host, at: out.split('\n').filter((l) => /^\d+(\.\d+)?$/.test(l.trim())).map(Number) };
  }
  /** From the last write accepted on `from` to the first accepted on `to`, in the hosts' clock. */
  function windowOf(from: Written, to: Written): { seconds: number; lastOld: number; firstNew: number; spacing: number } {
    if (from.at.length === 0) throw new Error(`${from.host} accepted no write`);
    if (to.at.length === 0) throw new Error(`${to.host} accepted no write`);
    const lastOld = Math.max(...from.at);
    const firstNew = Math.min(...to.at);
    if (firstNew < lastOld) progress(`TWO PRIMARIES: ${to.host} accepted a write at ${firstNew} before ${from.host}'s last at ${lastOld}`);
    const gaps = from.at.slice(1).map((t, i) => t - from.at[i]);
    return { seconds: firstNew - lastOld, lastOld, firstNew, spacing: gaps.length ? median(gaps) : NaN };
  }
  /** Writers on both, a settle so each has a baseline, `act`, a settle so the new primary has taken writes, then collect. */
  async function windowAround(from: string, to: string, act: () => Promise<void>) {
    await Promise.all([startWriter(from), startWriter(to)]);
    await sleep(1500);
    await act();
    await sleep(1500);
    const [a, b] = await Promise.all([stopWriter(from), stopWriter(to)]);
    return windowOf(a, b);
  }

  /** Every node but the primary streams from it and has replayed its current WAL position. */
  async function healthy(primary: string): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const [n, lsn] = (await psql(primary, "SELECT count(*), pg_current_wal_lsn() FROM pg_stat_replication WHERE state = 'streaming'")).split('|');
      if (n === '2') {
        const standbys = NODES.filter((x) => x !== primary);
        const caught = await Promise.all(standbys.map(async (s) => (await psql(s, `SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '${lsn}') >= 0`)) === 't'));
        if (caught.every(Boolean)) return;
      }
      if (Date.now() > deadline) throw new Error(`${primary}: not 2 standbys streaming and caught up after 120 s`);
      await sleep(250);
    }
  }

  // What a DBA types, each command a new ssh to the host as root.
  const ssh = async (node: string, command: string): Promise<string> => {
    const r = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
      const child = spawn('ssh', ['-i', f.lab.privateKeyFile, '-o', `UserKnownHostsFile=${f.lab.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${ip(node)}`, command], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (c) => resolve({ code: c ?? -1, out, err }));
    });
    if (r.code !== 0) throw new Error(`ssh ${node} ${command}: exit ${r.code}: ${r.err}`);
    return r.out.trim();
  };
  const sshPsql = (node: string, sql: string) => ssh(node, `runuser -u postgres -- psql -X -At -c "${sql}"`);
  async function handSwitchover(from: string, to: string): Promise<Record<string, number>> {
    const t: Record<string, number> = {};
    let t0 = performance.now();
    await sshPsql(from, 'CHECKPOINT');
    t.checkpoint = secs(t0);
    t0 = performance.now();
    await ssh(from, 'pg_ctlcluster 15 main stop -m fast');
    t.stop = secs(t0);
    t0 = performance.now();
    const control = await ssh(from, `${PG.bin}/pg_controldata ${PG.data}`);
    const lsn = /^Latest checkpoint location:\s+(\S+)$/m.exec(control)?.[1];
    const state = /^Database cluster state:\s+(.+)$/m.exec(control)?.[1];
    if (!lsn || state !== 'shut down') throw new Error(`${from}: pg_controldata says "${state}", checkpoint ${lsn}`);
    while ((await sshPsql(to, `SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '${lsn}') > 0`)) !== 't') await sleep(100);
    t.replayed = secs(t0);
    t0 = performance.now();
    const promoted = await sshPsql(to, 'SELECT pg_promote()');
    if (promoted !== 't') throw new Error(`${to}: pg_promote() returned ${promoted}`);
    t.promote = secs(t0);
    return t;
  }

  /** A finished run's steps: offset from `since` (epoch ms: the command's start) and duration; the plan's time before the run started. */
  async function stepsOf<R extends { steps: StepProgress[] }>(workflowId: string, since: number) {
    const handle = f.client.workflow.getHandle(workflowId);
    const d = await handle.describe();
    const result = (await handle.result()) as R;
    const lines = result.steps.map((x) => `    +${((x.startedAt - since) / 1000).toFixed(2).padStart(6)} s ${(((x.endedAt ?? x.startedAt) - x.startedAt) / 1000).toFixed(2).padStart(6)} s  ${x.name}`);
    return { result, lines, planned: (d.startTime.getTime() - since) / 1000, workflow: (d.closeTime!.getTime() - d.startTime.getTime()) / 1000 };
  }

  /** Activities of a workflow that took more than one attempt: type, attempts, the last attempt's failure. */
  async function retriesOf(workflowId: string): Promise<string[]> {
    const history = await f.client.workflow.getHandle(workflowId).fetchHistory();
    const types = new Map<string, string>();
    const out: string[] = [];
    for (const e of history.events ?? []) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) types.set(String(e.eventId), scheduled.activityType?.name ?? '?');
      const started = e.activityTaskStartedEventAttributes;
      if (started && (started.attempt ?? 1) > 1) {
        out.push(`${types.get(String(started.scheduledEventId))}: attempt ${started.attempt}, the one before failed: ${started.lastFailure?.message ?? '?'}`);
      }
    }
    return out;
  }
  /** The newest plan workflow of `type` (the CLI names it by the time it asked). */
  async function newestRun(type: string): Promise<string | undefined> {
    let newest: { id: string; at: number } | undefined;
    for await (const w of f.client.workflow.list({ query: `WorkflowType = '${type}'` })) {
      if (!newest || w.startTime.getTime() > newest.at) newest = { id: w.workflowId, at: w.startTime.getTime() };
    }
    return newest?.id;
  }

  /** The target's server log and pgBackRest archive-get log around a promotion, kept in the log directory. */
  async function keepLogs(host: string, what: string): Promise<void> {
    const text = await sh(host, 'tail -n 40 /var/log/postgresql/postgresql-15-main.log; for f in /var/log/pgbackrest/*archive-get*.log; do echo "== $f"; tail -n 30 "$f"; done').catch((e: unknown) => String(e));
    writeFileSync(join(logDir, `${String(++logged).padStart(2, '0')}-${what}-${host}-logs.txt`), text);
  }

  interface Round {
    stanzactl: number; hand: number; workflow: number; command: number; spacing: number;
    steps: string; handSteps: string; repair: number;
    failoverFirstWrite: number; failoverEnd: number; failoverTo: string; rebuild: number; rejoin: string;
  }
  const rounds: Round[] = [];
  let lastFailover = { planned: 0, lines: [] as string[], retries: [] as string[] };
  try {
    progress('lab up, Temporal server and worker');
    await f.setUp();
    writeFileSync(specFile, JSON.stringify(f.spec));
    progress('provision');
    await (await startProvision(f.client, f.spec)).result();
    await psql('pg1-srv', 'CREATE TABLE IF NOT EXISTS stzw_writes (at timestamptz DEFAULT clock_timestamp(), host text)');

    for (let i = 1; i <= runs; i++) {
      const [p] = await primaries();
      const [t, third] = NODES.filter((n) => n !== p);
      await healthy(p);

      progress(`round ${i}: stanzactl switchover ${p} -> ${t}`);
      let sw!: Awaited<ReturnType<typeof cli>>;
      const w1 = await windowAround(p, t, async () => { sw = await mustCli('switchover', '--to', t, '--yes'); });
      const so = await stepsOf<SwitchoverResult>(switchoverWorkflowId(f.spec), sw.startedAt);
      const { result, workflow } = so;
      progress(`  plan before the run: ${so.planned.toFixed(2)} s; the run's steps (offset from the command's start, duration):\n${so.lines.join('\n')}`);
      const dur = (name: string) => { const s = result.steps.find((x) => x.name === name); return s ? ((s.endedAt ?? s.startedAt) - s.startedAt) / 1000 : NaN; };
      const steps = `stop ${dur(`stop ${p}`).toFixed(2)}, replayed ${dur(`${t} replayed`).toFixed(2)}, promote ${dur(`promote ${t}`).toFixed(2)}, accepts writes ${dur(`${t} accepts writes`).toFixed(2)}`;
      progress(`  window ${w1.seconds.toFixed(3)} s (${steps}); command ${sw.seconds.toFixed(1)} s, workflow ${workflow.toFixed(1)} s`);
      await keepLogs(t, 'switchover');
      await healthy(t);

      progress(`round ${i}: by hand over SSH ${t} -> ${p}`);
      let hs!: Record<string, number>;
      const w2 = await windowAround(t, p, async () => { hs = await handSwitchover(t, p); });
      await keepLogs(p, 'hand');
      const handSteps = Object.entries(hs).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
      progress(`  window ${w2.seconds.toFixed(3)} s (${handSteps})`);
      progress(`round ${i}: stanzactl provision: ${t} and ${third} standbys of ${p} again`);
      const repair = await mustCli('provision');
      await healthy(p);
      progress(`  provision ${repair.seconds.toFixed(1)} s`);
      if ((await primaries()).join() !== p) throw new Error(`after the repair: primaries ${(await primaries()).join(', ')}`);

      progress(`round ${i}: ${p} killed and cut off, stanzactl failover`);
      await Promise.all([startWriter(t), startWriter(third)]);
      await sleep(1000);
      await sh(p, `kill -9 "$(head -1 ${PG.data}/postmaster.pid)"`);
      await labSetLink(f.lab, p, false);
      const fo = await mustCli('failover', '--yes');
      const foEnd = fo.startedAt / 1000 + fo.seconds;
      await sleep(1000);
      const [a, b] = await Promise.all([stopWriter(t), stopWriter(third)]);
      const first = [a, b].filter((w) => w.at.length > 0).map((w) => ({ host: w.host, at: Math.min(...w.at) })).sort((x, y) => x.at - y.at);
      if (first.length !== 1) throw new Error(`after the failover ${first.length} nodes accepted writes: ${JSON.stringify(first)}`);
      const failoverTo = first[0].host;
      const failoverFirstWrite = first[0].at - fo.startedAt / 1000;
      const follower = NODES.find((n) => n !== p && n !== failoverTo)!;
      const streams = await psql(failoverTo, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND application_name = '${follower}'`);
      if (streams !== '1') throw new Error(`${follower} does not stream from ${failoverTo} after the failover`);
      const fs = await stepsOf<FailoverResult>(failoverWorkflowId(f.spec), fo.startedAt);
      progress(`  plan before the run: ${fs.planned.toFixed(2)} s; the run's steps (offset from the command's start, duration):\n${fs.lines.join('\n')}`);
      const planId = await newestRun('failoverPlan').catch(() => undefined);
      const retries = [...(planId ? (await retriesOf(planId)).map((r) => `plan workflow ${r}`) : ['plan workflow: not found']), ...(await retriesOf(failoverWorkflowId(f.spec)))];
      if (retries.length) progress(`  retried activities:\n${retries.map((r) => `    ${r}`).join('\n')}`);
      lastFailover = { planned: fs.planned, lines: fs.lines, retries };
      progress(`  ${failoverTo} first write ${failoverFirstWrite.toFixed(2)} s after the command's start; command ${fo.seconds.toFixed(1)} s (${(foEnd - first[0].at).toFixed(1)} s after that write)`);
      await labSetLink(f.lab, p, true);
      // Odd rounds rejoin by pg_rewind of the killed primary, even ones by the delta restore: the
      // two ways side by side on the same damage (the lab's cluster is below rewindWorthIt's size).
      const rb = await mustCli('rebuild', '--node', p, '--yes', '--method', i % 2 === 0 ? 'restore' : 'rewind');
      const rejoin = /rebuilt: (.*) in [\d.]+ s/.exec(rb.out)?.[1] ?? '?';
      await healthy(failoverTo);
      progress(`  rebuild --node ${p}: ${rejoin}, ${rb.seconds.toFixed(1)} s`);
      rounds.push({
        stanzactl: w1.seconds, hand: w2.seconds, workflow, command: sw.seconds, spacing: Math.max(w1.spacing, w2.spacing), steps, handSteps,
        repair: repair.seconds, failoverFirstWrite, failoverEnd: fo.seconds, failoverTo, rebuild: rb.seconds, rejoin,
      });
    }

    const m = (k: keyof Round) => median(rounds.map((r) => r[k] as number));
    const ratio = m('stanzactl') / m('hand');
    const lines = [
      '',
      `Switchover unavailability window (last write accepted on the old primary -> first on the new one, server clock), ${runs} rounds:`,
      '| round | stanzactl | by hand | ratio | switchover workflow | command | writer spacing |',
      '|---|---|---|---|---|---|---|',
      ...rounds.map((r, i) => `| ${i + 1} | ${r.stanzactl.toFixed(2)} s | ${r.hand.toFixed(2)} s | ${(r.stanzactl / r.hand).toFixed(2)} | ${r.workflow.toFixed(1)} s | ${r.command.toFixed(1)} s | ${(r.spacing * 1000).toFixed(0)} ms |`),
      `| median | ${m('stanzactl').toFixed(2)} s | ${m('hand').toFixed(2)} s | ${ratio.toFixed(2)} | ${m('workflow').toFixed(1)} s | ${m('command').toFixed(1)} s | |`,
      `goal: stanzactl <= ${RATIO_GOAL}x by hand and < ${WINDOW_GOAL_S} s: ${ratio <= RATIO_GOAL && m('stanzactl') < WINDOW_GOAL_S ? 'met' : 'NOT met'}`,
      '',
      'stanzactl steps inside the window (s):',
      ...rounds.map((r, i) => `  round ${i + 1}: ${r.steps}`),
      'by hand (s): ',
      ...rounds.map((r, i) => `  round ${i + 1}: ${r.handSteps}; then stanzactl provision repointed the other two in ${r.repair.toFixed(1)} s`),
      '',
      'Failover (postmaster SIGKILLed, link down):',
      '| round | promoted | first write after the command started | command (every standby streaming) | rebuild of the old primary | how |',
      '|---|---|---|---|---|---|',
      ...rounds.map((r, i) => `| ${i + 1} | ${r.failoverTo} | ${r.failoverFirstWrite.toFixed(2)} s | ${r.failoverEnd.toFixed(1)} s | ${r.rebuild.toFixed(1)} s | ${r.rejoin} |`),
      `| median | | ${m('failoverFirstWrite').toFixed(2)} s | ${m('failoverEnd').toFixed(1)} s | ${m('rebuild').toFixed(1)} s | |`,
      '',
      `Last failover: plan (read-only workflow) ${lastFailover.planned.toFixed(2)} s, then the run's steps (offset from the command's start, duration):`,
      ...lastFailover.lines,
      ...(lastFailover.retries.length ? ['  activities retried:', ...lastFailover.retries.map((r) => `    ${r}`)] : []),
      '',
      `Every command's output: ${logDir}`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
  } finally {
    if (f.worker) writeFileSync(join(logDir, 'worker.txt'), f.worker.output);
    await teardown();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
