/**
 * A provision with nothing to do, on the EDB-like layout (pg_ctl, config in the data directory, a
 * sudo login as the reference procedure has it): its wall time and where it goes. Goal: <= 3 s.
 *
 *   npx tsc -p . && node dist/bench/noop-provision.js [--runs N]
 *
 * One lab (prefix `stzn`, subnet `10.231.252.0/24`, moved by STANZACTL_TEST_SLOT), provisioned
 * once (not timed), then N provisions of the same spec, client start to result. Prints each run's
 * seconds, their median, and the last run's steps with what each verified.
 */
import { startProvision, type ProvisionResult } from '../src/client';
import type { StepProgress } from '../src/workflows/progress';
import { ProvisionFixture } from '../tests/e2e/fixture';

const GOAL_SECONDS = 3;
const progress = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function parseRuns(argv: string[]): number {
  if (argv.length === 0) return 5;
  const n = argv[0] === '--runs' && argv.length === 2 ? Number(argv[1]) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new Error('usage: node dist/bench/noop-provision.js [--runs N]');
  return n;
}

async function provision(f: ProvisionFixture): Promise<{ seconds: number; result: ProvisionResult }> {
  const started = process.hrtime.bigint();
  const result = (await (await startProvision(f.client, f.spec)).result()) as ProvisionResult;
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, result };
}

function stepLines(steps: StepProgress[]): string[] {
  const t0 = Math.min(...steps.map((s) => s.startedAt));
  const secs = (ms: number) => (ms / 1000).toFixed(2).padStart(6);
  return steps.map((s) => `  +${secs(s.startedAt - t0)} s ${secs((s.endedAt ?? s.startedAt) - s.startedAt)} s  ${s.name}: ${s.detail ?? ''}`);
}

async function main(): Promise<void> {
  const runs = parseRuns(process.argv.slice(2));
  const f = new ProvisionFixture('edb', 'stzn', '10.231.252.0/24', 'dba');
  try {
    progress('lab up, Temporal server and worker');
    await f.setUp();
    progress('first provision (not timed)');
    await provision(f);
    const seconds: number[] = [];
    let last: ProvisionResult | undefined;
    for (let i = 0; i < runs; i++) {
      const run = await provision(f);
      if (run.result.changed) throw new Error(`run ${i + 1} changed something: ${JSON.stringify(run.result.steps.filter((s) => s.changed))}`);
      seconds.push(run.seconds);
      last = run.result;
      progress(`no-op provision ${i + 1}/${runs}: ${run.seconds.toFixed(2)} s`);
    }
    const m = median(seconds);
    process.stdout.write([
      `no-op provision on the edb layout, ${runs} runs: ${seconds.map((s) => s.toFixed(2)).join(' ')} s; median ${m.toFixed(2)} s; goal <= ${GOAL_SECONDS} s: ${m <= GOAL_SECONDS ? 'met' : 'NOT met'}`,
      '',
      'Last run, steps (start offset, duration, what it verified):',
      ...stepLines(last!.steps),
      '',
    ].join('\n'));
  } finally {
    await f.teardown();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
