/**
 * The Schedules' start delay with no worker at all: N Schedules firing every minute in the same
 * second, each starting a workflow nobody polls for, so takenAt - scheduledAt is the server's alone.
 * The dev server runs with stanzactl's start options (src/server.ts devServerArgs), or without one
 * of them to measure what it brings.
 *
 *   npx tsc -p . && node dist/bench/schedule-delay.js [--schedules 50] [--minutes 2] [--rollback-journal] [--default-scheduler-pollers]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { connectClient } from '../src/client';
import { temporalCli } from '../src/paths';
import { devServerArgs } from '../src/server';
import { freePort, waitForTemporal } from '../tests/e2e/harness';

const { values } = parseArgs({
  options: {
    schedules: { type: 'string', default: '50' },
    minutes: { type: 'string', default: '2' },
    // SQLite's default journal instead of stanzactl's WAL pragmas.
    'rollback-journal': { type: 'boolean' },
    // The per-namespace worker's SDK defaults instead of stanzactl's 16 pollers.
    'default-scheduler-pollers': { type: 'boolean' },
  },
});
const n = Number(values.schedules);
const minutes = Number(values.minutes);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** devServerArgs without the option `flag` and its value. */
function without(args: string[], flag: string, value: RegExp): string[] {
  return args.filter((a, i) => !(a === flag && value.test(args[i + 1] ?? '')) && !(args[i - 1] === flag && value.test(a)));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-schedule-delay-'));
  const port = await freePort();
  let args = devServerArgs(join(dir, 'temporal.db'), '127.0.0.1', port, port + 1000, true);
  if (values['rollback-journal']) args = without(args, '--sqlite-pragma', /^(journal_mode|synchronous)=/);
  if (values['default-scheduler-pollers']) args = without(args, '--dynamic-config-value', /^worker\.perNamespaceWorkerOptions=/);
  const server = spawn(temporalCli(), args, { stdio: 'ignore' });
  try {
    const address = `127.0.0.1:${port}`;
    await waitForTemporal(address);
    const client = await connectClient(address);
    const ids = Array.from({ length: n }, (_, i) => `delay-${i}`);
    for (const id of ids) {
      await client.schedule.create({
        scheduleId: id,
        spec: { cronExpressions: ['* * * * *'] },
        action: { type: 'startWorkflow', workflowType: 'nobodyRunsThis', taskQueue: 'nobody-polls', workflowId: `${id}-wf`, args: [] },
        // Every action starts, although no run ever ends.
        policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL },
      });
    }
    console.log(`${n} schedules, every minute, no worker, ${minutes} min; server: ${args.slice(2).join(' ')}`);
    await sleep(minutes * 60_000 + 20_000);
    const delays: number[] = [];
    for (const id of ids) {
      const h = client.schedule.getHandle(id);
      await h.pause('bench over');
      for (const a of (await h.describe()).info.recentActions) delays.push(a.takenAt.getTime() - a.scheduledAt.getTime());
    }
    console.log(`schedule start delay (${delays.length} actions): p50 ${pct(delays, 50)} ms, p99 ${pct(delays, 99)} ms, max ${Math.max(...delays)} ms`);
    await client.connection.close();
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
