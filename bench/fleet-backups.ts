/**
 * Eight stanzas' full backups fired by their Schedules at the same minute to one repository host,
 * against the same eight backups run one after another by hand; sshd's refusals on every host
 * after each side (issue 18).
 *
 *   npx tsc -p . && STANZACTL_TEST_SLOT=N node dist/bench/fleet-backups.js [--runs 2] [--scale 5] [--budgets default,8] [--status-reads 50]
 *
 * One lab (prefix stz8, subnet 10.231.58.0/24, moved by the slot), eight Debian clusters of their
 * own (name, port, data and config directories) spread over pg1-srv, pg2-srv and pg3-srv, each a
 * stanza with its primary alone, all on backup-srv; each loaded with `pgbench -i -s SCALE`.
 * Sides, the order alternating between runs:
 * - scheduled (one per --budgets entry): `stanzactl schedule apply --specs DIR` with every
 *   stanza's full backup at the same coming minute, the repository host's budget at its default
 *   (`default`: read from the host's sshd, see facts/ssh-limits.ts) or the number given; timed from
 *   the scheduled minute to the last run's close;
 * - by hand: `pgbackrest --stanza=X --type=full backup` as the repository user on the repository
 *   host, one after the other (through nsenter: no SSH from the operator), as a DBA types them.
 * Then `status --specs` over the eight and over --status-reads specs (statusReads).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { labExec, labPostgres, REPOSITORY_HOST, type Lab } from '../dev/lab';
import { planNetwork } from '../dev/lab/network';
import { BUDGET_QUERY, budgetWorkflowId, type BudgetState } from '../src/budget/protocol';
import { startProvision } from '../src/client';
import type { Spec } from '../src/spec/schema';
import { PROGRESS_QUERY, scheduleId } from '../src/workflow-ids';
import type { BackupOutcome } from '../src/workflows/backup';
import type { Progress } from '../src/workflows/progress';
import { ProvisionFixture } from '../tests/e2e/fixture';
import { guardedTeardown, runCli, until } from '../tests/e2e/harness';
import { sampleBackups } from '../tests/e2e/repository-load';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' }, scale: { type: 'string', default: '5' }, budgets: { type: 'string', default: 'default' }, 'status-reads': { type: 'string', default: '50' } } });
const STATUS_READS = Number(values['status-reads']);
const RUNS = Number(values.runs);
const SCALE = values.scale;
const BUDGETS = values.budgets.split(',').map((b) => (b === 'default' ? undefined : Number(b)));
const STANZAS = 8;
const PG_HOSTS = ['pg1-srv', 'pg2-srv', 'pg3-srv'];
const SSHD_LOG = '/var/log/sshd.log';
// What sshd logs when it turns a connection or a session away (OpenSSH 9.2): MaxStartups' random
// drops ("drop connection #N ... past MaxStartups", "exceeded MaxStartups", "beginning dropping"),
// channels past MaxSessions, and connections that ended before authentication.
const REFUSAL = /MaxStartups|beginning dropping|Connection reset|refused|Too many|exceeded MaxSessions|Connection closed by .*\[preauth\]/;

const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const secs = (ms: number) => (ms / 1000).toFixed(1);

/** The i-th stanza (0-based): a Debian cluster of its own on one of the three PostgreSQL hosts, its primary alone. */
function stanzaSpec(base: Spec, i: number): Spec {
  const n = i + 1;
  const cluster = `f${n}`;
  const node = base.nodes.find((x) => x.name === PG_HOSTS[i % PG_HOSTS.length])!;
  return {
    ...base,
    stanza: `fleet${n}`,
    postgres: { ...labPostgres('debian'), port: 5440 + n, dataDir: `/var/lib/postgresql/15/${cluster}`, configDir: `/etc/postgresql/15/${cluster}`, control: { type: 'pg_ctlcluster', cluster } },
    nodes: [{ name: node.name, host: node.host, role: 'primary' }],
  };
}

async function on(lab: Lab, host: string, argv: string[], user?: string): Promise<string> {
  const r = await labExec(lab, host, argv, { user });
  if (r.code !== 0) throw new Error(`${host}: ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const psql = (lab: Lab, spec: Spec, sql: string) => on(lab, spec.nodes[0].name, [`${spec.postgres.binDir}/psql`, '-X', '-At', '-p', String(spec.postgres.port), '-d', 'postgres', '-c', sql], 'postgres').then((s) => s.trim());

/** One backup of a side: seconds from the side's start (the scheduled minute, or the first command). */
interface Backup {
  stanza: string;
  started: number;
  queued: number;
  ran: number;
  ended: number;
}

/** A scheduled run's slot, epoch ms from its steps: asked (queue step start), granted (its end), given back (about the backup step's end). */
interface Held {
  asked: number;
  granted: number;
  released: number;
}

/**
 * The longest a backup waited in the queue while fewer than `capacity` others held a slot, in
 * 100 ms steps: first come first served should hand a freed slot on within a signal's round trip.
 */
function freeWhileQueued(held: Held[], capacity: number): number {
  let worst = 0;
  for (const w of held) {
    let free = 0;
    for (let t = w.asked; t < w.granted; t += 100) if (held.filter((o) => o !== w && o.granted <= t && t < o.released).length < capacity) free += 100;
    worst = Math.max(worst, free);
  }
  return worst / 1000;
}

interface Side {
  run: number;
  name: string;
  total: number;
  backups: Backup[];
  budget?: string;
  /** Scheduled sides: the longest a backup queued with a slot free (freeWhileQueued). */
  freeWait?: number;
  most: number;
  samples: number;
  sshd: SshdSeen[];
  load: [number, number];
}

/** What one host's sshd logged: refusals (whole lines), logins, and those of them from the operator (the worker: the bridge's address). */
interface SshdSeen {
  host: string;
  refused: string[];
  logins: number;
  operator: number;
}

/** Each host's sshd log size now: what a side adds is read from there. */
async function sshdMarks(lab: Lab): Promise<Map<string, number>> {
  const marks = new Map<string, number>();
  for (const h of lab.hosts) marks.set(h.name, Number((await on(lab, h.name, ['stat', '-c', '%s', SSHD_LOG])).trim()));
  return marks;
}

/** The refusals (whole lines) and logins each host's sshd logged since `marks`. */
async function sshdSince(lab: Lab, marks?: Map<string, number>): Promise<SshdSeen[]> {
  const fromOperator = ` from ${planNetwork(lab.prefix, lab.subnet).bridgeIp} `;
  const out: SshdSeen[] = [];
  for (const h of lab.hosts) {
    const lines = (await on(lab, h.name, ['tail', '-c', `+${(marks?.get(h.name) ?? 0) + 1}`, SSHD_LOG])).split('\n');
    const logins = lines.filter((l) => l.startsWith('Accepted publickey'));
    out.push({ host: h.name, refused: lines.filter((l) => REFUSAL.test(l)), logins: logins.length, operator: logins.filter((l) => l.includes(fromOperator)).length });
  }
  return out;
}

const sshdLine = (seen: SshdSeen[]) => seen.map((h) => `${h.host} ${h.refused.length} (${h.logins}/${h.operator})`).join(', ');

/** Each cluster's WAL archived (none `.ready`): pgbench's WAL on its way to the archive would slow whichever side came first. */
async function archiveDrained(lab: Lab, specs: Spec[]): Promise<void> {
  for (const s of specs) {
    await until(`${s.stanza}'s archive to catch up`, async () => (await psql(lab, s, "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'")) === '0', 5 * 60_000, 500);
  }
}

/** The eight backups one after the other, as the repository user on the repository host. */
async function byHand(lab: Lab, specs: Spec[]): Promise<Pick<Side, 'total' | 'backups'>> {
  const t0 = performance.now();
  const backups: Backup[] = [];
  for (const s of specs) {
    const b0 = performance.now();
    await on(lab, REPOSITORY_HOST, ['pgbackrest', `--stanza=${s.stanza}`, '--type=full', 'backup'], s.repository.user);
    const b1 = performance.now();
    backups.push({ stanza: s.stanza, started: (b0 - t0) / 1000, queued: 0, ran: (b1 - b0) / 1000, ended: (b1 - t0) / 1000 });
  }
  return { total: (performance.now() - t0) / 1000, backups };
}

/**
 * Every stanza's full backup scheduled at the same coming minute (at least 20 s away, for the
 * apply), through the CLI as a user applies them; waits for every run to close, then deletes the
 * Schedules (one minute's firing is the measurement).
 */
async function scheduled(f: ProvisionFixture, specs: Spec[], budget: number | undefined, dir: string): Promise<Pick<Side, 'total' | 'backups' | 'budget' | 'freeWait'>> {
  const at = new Date(Math.ceil((Date.now() + 20_000) / 60_000) * 60_000);
  const cron = `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const s of specs) {
    const spec: Spec = { ...s, repository: { ...s.repository, ...(budget !== undefined && { budget }) }, backups: { ...s.backups, schedule: { full: cron, timezone: 'UTC' } } };
    writeFileSync(join(dir, `${s.stanza}.json`), JSON.stringify(spec));
  }
  const client = f.client;
  try {
    const applied = await runCli(['schedule', 'apply', '--specs', dir], f.workerEnv);
    if (applied.code !== 0) throw new Error(`schedule apply: exit ${applied.code}: ${applied.stdout}${applied.stderr}`);
    log(`schedules applied: full backups at ${at.toISOString().slice(11, 16)} UTC (${cron})`);
    const prefixes = specs.map((s) => `${scheduleId(s, 'full')}-`);
    const runs = await until('every scheduled backup to close', async () => {
      const found = [];
      for await (const w of client.workflow.list({ query: "WorkflowType = 'backupStanza'" })) {
        if (w.startTime.getTime() >= at.getTime() - 5000 && prefixes.some((p) => w.workflowId.startsWith(p))) found.push(w);
      }
      return found.length === specs.length && found.every((w) => w.closeTime) ? found : undefined;
    }, 15 * 60_000 + (at.getTime() - Date.now()), 1000);
    const backups: Backup[] = [];
    const held: Held[] = [];
    let why: string | undefined;
    for (const w of runs) {
      const handle = client.workflow.getHandle(w.workflowId, w.runId);
      const outcome = (await handle.result()) as BackupOutcome;
      if (outcome.status !== 'done') throw new Error(`${w.workflowId}: ${outcome.status}: ${outcome.reason}`);
      const { steps } = await handle.query<Progress>(PROGRESS_QUERY);
      const step = (name: string) => steps.find((x) => x.name === name);
      const took = (name: string) => {
        const s = step(name);
        return s?.endedAt ? (s.endedAt - s.startedAt) / 1000 : NaN;
      };
      const queue = step('queue for full backup');
      held.push({ asked: queue?.startedAt ?? NaN, granted: queue?.endedAt ?? NaN, released: step('full backup')?.endedAt ?? NaN });
      why ??= /one of its (\d+ pgBackRest slots \(.*\)) for /.exec(steps.find((x) => x.name === 'slot for full backup')?.detail ?? '')?.[1];
      const stanza = specs.find((s) => w.workflowId.startsWith(`${scheduleId(s, 'full')}-`))!.stanza;
      backups.push({ stanza, started: (w.startTime.getTime() - at.getTime()) / 1000, queued: took('queue for full backup'), ran: took('full backup'), ended: (w.closeTime!.getTime() - at.getTime()) / 1000 });
    }
    backups.sort((a, b) => a.stanza.localeCompare(b.stanza, undefined, { numeric: true }));
    const state = await client.workflow.getHandle(budgetWorkflowId(specs[0].repository.host)).query<BudgetState>(BUDGET_QUERY);
    return {
      total: Math.max(...backups.map((b) => b.ended)), backups, budget: `${budget ?? 'default'}: ${why ?? '?'}; the budget's capacity now ${state.capacity}`,
      freeWait: freeWhileQueued(held, state.capacity),
    };
  } finally {
    for (const s of specs) await client.schedule.getHandle(scheduleId(s, 'full')).delete().catch(() => undefined);
  }
}

/**
 * `stanzactl status --specs DIR --json` over `count` specs, three times: the eight stanzas, and
 * copies of them under other stanza names up to `count` (each read does what a real one does: SSH
 * to the repository host and the primary, pgbackrest info, the primary's queries; a copy's stanza
 * is simply not in the repository). Seconds of each, from the command's start to its exit.
 */
async function statusReads(f: ProvisionFixture, specs: Spec[], dir: string, count: number): Promise<number[]> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (let i = 0; i < count; i++) {
    const s = specs[i % specs.length];
    const stanza = i < specs.length ? s.stanza : `${s.stanza}c${Math.floor(i / specs.length)}`;
    writeFileSync(join(dir, `${stanza}.json`), JSON.stringify({ ...s, stanza }));
  }
  const times: number[] = [];
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    const r = await runCli(['status', '--specs', dir, '--json'], f.workerEnv);
    times.push((performance.now() - t0) / 1000);
    const counts = (JSON.parse(r.stdout) as { counts: { stanzas: number; unreadable: number } }).counts;
    if (counts.stanzas !== count || counts.unreadable !== 0) throw new Error(`status --specs: ${JSON.stringify(counts)}: ${r.stderr}`);
  }
  return times;
}

function report(s: Side): void {
  const runs = s.backups.map((b) => b.ran);
  console.log(`\nrun ${s.run}, ${s.name}${s.budget ? ` (budget ${s.budget})` : ''}: total ${s.total.toFixed(1)} s; at most ${s.most} backup(s) at once on ${REPOSITORY_HOST} (${s.samples} samples); load average ${s.load[0].toFixed(1)} -> ${s.load[1].toFixed(1)}`);
  console.log('  stanza   started +s  queue s  run s  ended +s');
  for (const b of s.backups) console.log(`  ${b.stanza.padEnd(7)}  ${b.started.toFixed(1).padStart(9)}  ${b.queued.toFixed(1).padStart(7)}  ${b.ran.toFixed(1).padStart(5)}  ${b.ended.toFixed(1).padStart(8)}`);
  console.log(`  median run ${median(runs).toFixed(1)} s (${Math.min(...runs).toFixed(1)}-${Math.max(...runs).toFixed(1)}), median queue ${median(s.backups.map((b) => b.queued)).toFixed(1)} s${s.freeWait === undefined ? '' : `; longest wait in the queue with a slot free ${s.freeWait.toFixed(1)} s`}`);
  console.log(`  sshd refusals (logins/of them the worker's): ${sshdLine(s.sshd)}`);
  for (const h of s.sshd) for (const l of h.refused.slice(0, 5)) console.log(`    ${h.host}: ${l}`);
}

async function main(): Promise<void> {
  const f = new ProvisionFixture('debian', 'stz8', '10.231.58.0/24');
  const root = mkdtempSync(join(tmpdir(), 'stanzactl-fleet-backups-'));
  const teardown = guardedTeardown(async () => {
    rmSync(root, { recursive: true, force: true });
    await f.teardown();
  });
  try {
    const t0 = performance.now();
    await f.setUp();
    const specs = Array.from({ length: STANZAS }, (_, i) => stanzaSpec(f.spec, i));
    // In waves of one stanza per PostgreSQL host: several provisions at once share only the repository host, as in tests/e2e/fleet.test.ts.
    for (let w = 0; w < specs.length; w += PG_HOSTS.length) {
      const wave = specs.slice(w, w + PG_HOSTS.length);
      await Promise.all(wave.map(async (s) => (await startProvision(f.client, s)).result()));
      log(`provisioned ${wave.map((s) => `${s.stanza} (${s.nodes[0].name}:${s.postgres.port})`).join(', ')}`);
    }
    const sizes: string[] = [];
    for (const s of specs) {
      await on(f.lab, s.nodes[0].name, [`${s.postgres.binDir}/pgbench`, '-i', '-q', '-s', SCALE, '-p', String(s.postgres.port), 'postgres'], 'postgres');
      sizes.push(`${s.stanza} ${await psql(f.lab, s, 'SELECT pg_size_pretty(pg_database_size(current_database()))')}`);
    }
    console.log(`${STANZAS} stanzas on ${REPOSITORY_HOST}, primaries on ${PG_HOSTS.join(', ')} (lab ${f.lab.prefix}, set up in ${secs(performance.now() - t0)} s); pgbench scale ${SCALE}: ${sizes.join(', ')}`);
    const others = readdirSync('/sys/class/net').filter((n) => n.endsWith('-br0') && n !== `${f.lab.prefix}-br0`).map((n) => n.slice(0, -4));
    console.log(`other labs up at the start: ${others.join(', ') || 'none'}; ${RUNS} run(s), order alternating`);
    // Context, in no side: what the lab's start and the provisions left in the logs.
    const setup = await sshdSince(f.lab);
    console.log(`sshd during lab up and provision, lines matching a refusal (logins/of them the worker's): ${sshdLine(setup)}`);
    for (const h of setup) for (const l of h.refused.slice(0, 3)) console.log(`    ${h.host}: ${l}`);

    const sides: Side[] = [];
    const names = ['by hand', ...BUDGETS.map((b) => `scheduled, budget ${b ?? 'default'}`)];
    for (let run = 1; run <= RUNS; run++) {
      for (const name of run % 2 ? names : [...names].reverse()) {
        await archiveDrained(f.lab, specs);
        // The gigabytes the previous side wrote would otherwise slow whichever comes next.
        execFileSync('sync');
        const marks = await sshdMarks(f.lab);
        const load0 = loadavg()[0];
        log(`run ${run}: ${name}`);
        const budget = BUDGETS[names.indexOf(name) - 1];
        const measured = await sampleBackups(f.lab, () => (name === 'by hand' ? byHand(f.lab, specs) : scheduled(f, specs, budget, join(root, 'specs'))), 250);
        const side: Side = { run, name, ...measured.result, most: measured.most, samples: measured.samples, sshd: await sshdSince(f.lab, marks), load: [load0, loadavg()[0]] };
        sides.push(side);
        report(side);
      }
    }

    console.log('\nside                          totals s            median total s  median per-backup run s  most at once  sshd refusals  queued with a slot free, max s');
    for (const name of names) {
      const mine = sides.filter((s) => s.name === name);
      const refused = mine.reduce((n, s) => n + s.sshd.reduce((m, h) => m + h.refused.length, 0), 0);
      const free = mine[0].freeWait === undefined ? '-' : Math.max(...mine.map((s) => s.freeWait!)).toFixed(1);
      console.log(`${name.padEnd(28)}  ${mine.map((s) => s.total.toFixed(1)).join(', ').padEnd(18)}  ${median(mine.map((s) => s.total)).toFixed(1).padStart(14)}  ${median(mine.flatMap((s) => s.backups.map((b) => b.ran))).toFixed(1).padStart(23)}  ${String(Math.max(...mine.map((s) => s.most))).padStart(11)}  ${String(refused).padStart(13)}  ${free}`);
    }
    if (STATUS_READS > 0) {
      for (const n of [STANZAS, STATUS_READS]) {
        const load0 = loadavg()[0];
        const times = await statusReads(f, specs, join(root, `status-${n}`), n);
        console.log(`status --specs of ${n} stanzas (${Math.min(n, STANZAS)} real, ${Math.max(0, n - STANZAS)} copies under other names): ${times.map((t) => t.toFixed(1)).join(', ')} s, median ${median(times).toFixed(1)} s; load average ${load0.toFixed(1)} -> ${loadavg()[0].toFixed(1)}`);
      }
    }
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  } finally {
    await teardown();
  }
}

main().then(() => process.exit(0), (e: unknown) => { console.error(e); process.exit(1); });
