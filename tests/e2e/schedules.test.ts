import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection, type ScheduleDescription } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { scheduleCommand } from '../../src/commands/schedule';
import { applySchedules, listSchedules, pauseSchedules, triggerSchedule, unpauseSchedules } from '../../src/schedules';
import { describeSchedule } from '../../src/schedules/lookup';
import { desiredSchedule } from '../../src/schedules/plan';
import { parseSpec } from '../../src/spec/load';
import type { Spec } from '../../src/spec/schema';
import { legacyScheduleId } from '../../src/workflow-ids';
import { freePort, guardedTeardown, TestTemporal } from './harness';

const fixtures = resolve(__dirname, '../../../tests/fixtures/spec');
const demoYaml = readFileSync(`${fixtures}/demo.yaml`, 'utf8');

/** The demo spec under its own stanza name, so each test owns its schedules on the shared server. */
function specFor(stanza: string, schedule: Record<string, string> | undefined): Spec {
  const raw = JSON.parse(JSON.stringify(parseSpec(demoYaml, 'demo.yaml')));
  raw.stanza = stanza;
  if (schedule) raw.backups = { ...raw.backups, schedule };
  return parseSpec(JSON.stringify(raw), 'spec.json');
}

/** What proves a schedule was not written: the server bumps both on every update. */
function writeMarks(d: ScheduleDescription | undefined): { token: string; lastUpdatedAt?: string } {
  assert.ok(d, 'schedule exists');
  return { token: Buffer.from(d.raw.conflictToken ?? []).toString('hex'), lastUpdatedAt: d.info.lastUpdatedAt?.toISOString() };
}

function actions(rows: { type: string; action: string }[]): string[] {
  return rows.map((r) => `${r.type} ${r.action}`);
}

/** Wall-clock fields of an instant in a time zone, as the cron there reads them. */
function localTime(iso: string, timeZone: string): { weekday: string; hour: string; minute: string } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(iso));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return { weekday: get('weekday'), hour: get('hour'), minute: get('minute') };
}

describe('backup schedules on a real Temporal server', { timeout: 5 * 60_000 }, () => {
  const t = new TestTemporal();
  let client: Client;
  const teardown = guardedTeardown(async () => {
    await client?.connection.close();
    await t.stop();
  });
  before(async () => {
    // The stub worker's bundling and state lines say nothing these tests need.
    Runtime.install({ logger: new DefaultLogger('WARN') });
    await t.start();
    client = new Client({ connection: await Connection.connect({ address: t.address }) });
  });
  after(teardown);

  test('apply creates, writes nothing when unchanged, updates one type, keeps pause, deletes', async () => {
    const base = { full: '30 1 * * 0', diff: '30 1 * * 1-6', timezone: 'UTC', catchupWindow: '1h' };
    const spec = specFor('crud', base);
    const [fullId, diffId] = ['backup-crud@backup-srv-full', 'backup-crud@backup-srv-diff'];

    assert.deepEqual(actions(await applySchedules(client, spec)), ['full created', 'diff created']);
    const created = await describeSchedule(client, fullId);
    assert.deepEqual(created!.policies, { overlap: 'SKIP', catchupWindow: 3_600_000, pauseOnFailure: false });
    assert.equal(created!.action.workflowType, 'backupStanza');
    assert.equal(created!.action.taskQueue, 'stanzactl');
    const marks = { full: writeMarks(created), diff: writeMarks(await describeSchedule(client, diffId)) };

    assert.deepEqual(actions(await applySchedules(client, specFor('crud', base))), ['full unchanged', 'diff unchanged']);
    assert.deepEqual(writeMarks(await describeSchedule(client, fullId)), marks.full, 'full not written');
    assert.deepEqual(writeMarks(await describeSchedule(client, diffId)), marks.diff, 'diff not written');

    const rows = await applySchedules(client, specFor('crud', { ...base, diff: '0 3 * * 1-6' }));
    assert.deepEqual(actions(rows), ['full unchanged', 'diff updated']);
    assert.deepEqual(rows[1].changes, ['cron', 'summary']);
    assert.deepEqual(writeMarks(await describeSchedule(client, fullId)), marks.full, 'full not written');
    assert.notDeepEqual(writeMarks(await describeSchedule(client, diffId)), marks.diff, 'diff written');

    assert.deepEqual(await pauseSchedules(client, spec, { type: 'diff', note: 'maintenance' }), [{ id: diffId, type: 'diff', action: 'paused' }]);
    assert.deepEqual(actions(await applySchedules(client, specFor('crud', { ...base, diff: '15 4 * * 1-6' }))), ['full unchanged', 'diff updated']);
    const pausedDiff = await describeSchedule(client, diffId);
    assert.deepEqual(pausedDiff!.state, { paused: true, note: 'maintenance', remainingActions: undefined }, 'apply keeps the user\'s pause and note');
    assert.equal(pausedDiff!.info.nextActionTimes[0].getUTCHours(), 4);

    const { diff: _removed, ...withoutDiff } = base;
    assert.deepEqual(actions(await applySchedules(client, specFor('crud', withoutDiff))), ['full unchanged', 'diff deleted']);
    assert.equal(await describeSchedule(client, diffId), undefined);
    assert.deepEqual(actions(await applySchedules(client, specFor('crud', withoutDiff))), ['full unchanged']);

    assert.deepEqual(await unpauseSchedules(client, spec), [{ id: fullId, type: 'full', action: 'already unpaused' }]);
    assert.deepEqual(await pauseSchedules(client, spec), [{ id: fullId, type: 'full', action: 'paused' }]);
    assert.deepEqual(actions(await applySchedules(client, specFor('crud', withoutDiff))), ['full unchanged']);
    assert.equal((await describeSchedule(client, fullId))!.state.paused, true);
    assert.deepEqual(await unpauseSchedules(client, spec), [{ id: fullId, type: 'full', action: 'unpaused' }]);
    assert.equal((await describeSchedule(client, fullId))!.state.paused, false);
    await assert.rejects(pauseSchedules(client, spec, { type: 'incr' }), /no schedule backup-crud@backup-srv-incr .*no backups\.schedule\.incr/);

    assert.deepEqual(actions(await applySchedules(client, specFor('crud', undefined))), ['full deleted']);
  });

  test('apply replaces the cluster\'s schedules of an older stanzactl, pause kept; another repository host\'s stay', async () => {
    const base = { full: '30 1 * * 0', diff: '30 1 * * 1-6' };
    const here = specFor('moved', base);
    const there: Spec = { ...here, repository: { ...here.repository, host: 'backup-srv-2' } };
    // As an older stanzactl created them for `there`: ids and workflow ids of the stanza alone.
    for (const type of ['full', 'diff'] as const) {
      const want = desiredSchedule(there, type);
      const id = legacyScheduleId('moved', type);
      await client.schedule.create({ ...want, scheduleId: id, action: { ...want.action, workflowId: id }, state: { paused: type === 'diff', note: type === 'diff' ? 'disk full' : undefined } });
    }
    // `here` is another cluster of the same stanza name: the old ids are not its to delete.
    assert.deepEqual(actions(await applySchedules(client, here)), ['full created', 'diff created']);
    assert.ok(await describeSchedule(client, 'backup-moved-full'));

    const rows = await applySchedules(client, there);
    assert.deepEqual(rows.map((r) => [r.id, r.action, r.replacedBy]), [
      ['backup-moved@backup-srv-2-full', 'created', undefined],
      ['backup-moved-full', 'deleted', 'backup-moved@backup-srv-2-full'],
      ['backup-moved@backup-srv-2-diff', 'created', undefined],
      ['backup-moved-diff', 'deleted', 'backup-moved@backup-srv-2-diff'],
    ]);
    assert.equal(await describeSchedule(client, 'backup-moved-full'), undefined);
    assert.deepEqual((await describeSchedule(client, 'backup-moved@backup-srv-2-diff'))!.state, { paused: true, note: 'disk full', remainingActions: undefined });
    assert.equal((await describeSchedule(client, 'backup-moved@backup-srv-2-full'))!.state.paused, false);
    // Both clusters keep their own; a second apply writes nothing.
    assert.deepEqual(actions(await applySchedules(client, there)), ['full unchanged', 'diff unchanged']);
    assert.deepEqual(actions(await applySchedules(client, here)), ['full unchanged', 'diff unchanged']);
    const unscheduled = specFor('moved', undefined);
    for (const spec of [unscheduled, { ...unscheduled, repository: there.repository }]) assert.deepEqual(actions(await applySchedules(client, spec)), ['full deleted', 'diff deleted']);
  });

  test('list shows three future runs per schedule, matching the cron in its time zone', async () => {
    const spec = specFor('listed', { full: '30 1 * * 0', diff: '30 1 * * 1-6', timezone: 'Europe/Paris' });
    await applySchedules(client, spec);
    const views = await listSchedules(client, spec);
    assert.deepEqual(views.map((v) => [v.id, v.cron, v.timezone, v.paused, v.inSpec, v.outOfDate.length, v.recent.length]), [
      ['backup-listed@backup-srv-full', '30 1 * * 0', 'Europe/Paris', false, true, 0, 0],
      ['backup-listed@backup-srv-diff', '30 1 * * 1-6', 'Europe/Paris', false, true, 0, 0],
    ]);
    for (const v of views) {
      assert.equal(v.nextRuns.length, 3);
      const times = v.nextRuns.map((r) => Date.parse(r));
      assert.ok(times[0] > Date.now() && times[0] < times[1] && times[1] < times[2], `${v.id}: ${v.nextRuns}`);
      for (const r of v.nextRuns) {
        const local = localTime(r, 'Europe/Paris');
        assert.deepEqual([local.hour, local.minute], ['01', '30'], `${v.id} ${r}`);
        assert.equal(local.weekday === 'Sun', v.type === 'full', `${v.id} ${r} is a ${local.weekday}`);
      }
    }
    // The spec moves on: list says what the next apply would change.
    const edited = specFor('listed', { full: '30 1 * * 0', timezone: 'Europe/Paris' });
    assert.deepEqual((await listSchedules(client, edited)).map((v) => [v.type, v.inSpec]), [['full', true], ['diff', false]]);
  });

  test('trigger starts one backup, and skips a second beside the running one', async () => {
    // Nobody polls this queue: the started run stays running, as a long backup would.
    const queue = `idle-${Date.now()}`;
    const spec = specFor('trig', { full: '0 2 * * *' });
    await applySchedules(client, spec, queue);
    const first = await triggerSchedule(client, spec, 'full');
    assert.equal(first.outcome, 'started', JSON.stringify(first));
    assert.ok(first.outcome === 'started' && first.workflowId.startsWith('backup-trig@backup-srv-full-'), JSON.stringify(first));
    const second = await triggerSchedule(client, spec, 'full');
    assert.deepEqual(second, { id: 'backup-trig@backup-srv-full', outcome: 'skipped', running: [first.workflowId] });
    const [view] = await listSchedules(client, spec, queue);
    assert.deepEqual(view.recent.map((r) => [r.workflowId, r.status]), [[first.workflowId, 'running']]);
    await client.workflow.getHandle(first.workflowId).terminate('test over');
    assert.equal((await listSchedules(client, spec, queue))[0].recent[0].status, 'terminated');
    await applySchedules(client, specFor('trig', undefined));
  });

  test('a "* * * * *" schedule fires on the server and its run shows as done', { timeout: 3 * 60_000 }, async () => {
    const queue = `fires-${Date.now()}`;
    const spec = specFor('fires', { full: '* * * * *' });
    const connection = await NativeConnection.connect({ address: t.address });
    const worker = await Worker.create({ connection, taskQueue: queue, workflowsPath: require.resolve('../fixtures/schedule-workflow') });
    try {
      await worker.runUntil(async () => {
        await applySchedules(client, spec, queue);
        const deadline = Date.now() + 75_000;
        let d = await describeSchedule(client, 'backup-fires@backup-srv-full');
        while (d!.info.recentActions.length === 0) {
          assert.ok(Date.now() < deadline, 'no action within 75 s');
          await new Promise((r) => setTimeout(r, 1000));
          d = await describeSchedule(client, 'backup-fires@backup-srv-full');
        }
        const run = d!.info.recentActions[0].action.workflow;
        assert.match(run.workflowId, /^backup-fires@backup-srv-full-/);
        assert.deepEqual(await client.workflow.getHandle(run.workflowId, run.firstExecutionRunId).result(), { status: 'done', backup: { label: 'stub-full' } });
        const [view] = await listSchedules(client, spec, queue);
        assert.deepEqual(view.recent.at(-1), { scheduledAt: view.recent.at(-1)!.scheduledAt, workflowId: run.workflowId, runId: run.firstExecutionRunId, status: 'done', detail: 'stub-full' });
        // Deleted while the worker still runs: no further minute fires into a queue nobody serves.
        await applySchedules(client, specFor('fires', undefined));
      });
    } finally {
      await connection.close();
    }
  });

  test('the schedule command prints a line per schedule and fails clearly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stanzactl-sched-'));
    const file = join(dir, 'spec.json');
    const cli = async (args: string[], env: { TEMPORAL_ADDRESS?: string } = {}) => {
      const out: string[] = [];
      const err: string[] = [];
      const saved = { log: console.log, error: console.error, address: process.env.TEMPORAL_ADDRESS };
      console.log = (l: string) => out.push(l);
      console.error = (l: string) => err.push(l);
      process.env.TEMPORAL_ADDRESS = env.TEMPORAL_ADDRESS ?? t.address;
      try {
        return { code: await scheduleCommand.run(args), stdout: out.join('\n'), stderr: err.join('\n') };
      } finally {
        Object.assign(console, { log: saved.log, error: saved.error });
        if (saved.address === undefined) delete process.env.TEMPORAL_ADDRESS;
        else process.env.TEMPORAL_ADDRESS = saved.address;
      }
    };
    try {
      writeFileSync(file, JSON.stringify(specFor('cli', { full: '30 1 * * 0', diff: '30 1 * * 1-6' })));
      let r = await cli(['apply', '--spec', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'backup-cli@backup-srv-full: created (30 1 * * 0 UTC)\nbackup-cli@backup-srv-diff: created (30 1 * * 1-6 UTC)');
      r = await cli(['apply', '--spec', file]);
      assert.equal(r.stdout, 'backup-cli@backup-srv-full: unchanged\nbackup-cli@backup-srv-diff: unchanged');
      r = await cli(['pause', '--spec', file, '--type', 'diff', '--note', 'disk full']);
      assert.equal(r.stdout, 'backup-cli@backup-srv-diff: paused');
      r = await cli(['list', '--spec', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^backup-cli@backup-srv-full: 30 1 \* \* 0 UTC, active\n  next: \S+Z, \S+Z, \S+Z\n  recent: none\nbackup-cli@backup-srv-diff: 30 1 \* \* 1-6 UTC, paused \(disk full\)/);
      r = await cli(['list', '--spec', file, '--json']);
      assert.deepEqual(JSON.parse(r.stdout).map((v: { id: string; paused: boolean }) => [v.id, v.paused]), [['backup-cli@backup-srv-full', false], ['backup-cli@backup-srv-diff', true]]);
      r = await cli(['unpause', '--spec', file]);
      assert.equal(r.stdout, 'backup-cli@backup-srv-full: already unpaused\nbackup-cli@backup-srv-diff: unpaused');

      r = await cli(['trigger', '--spec', file]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /trigger needs --type T/);
      r = await cli(['pause', '--spec', file, '--type', 'incr']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'stanzactl schedule pause: no schedule backup-cli@backup-srv-incr on the server: the spec has no backups.schedule.incr');
      r = await cli(['list', '--spec', join(dir, 'missing.yaml')]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /cannot read .*missing\.yaml: no such file/);
      r = await cli(['apply', '--spec', file, '--json']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /apply takes no --json/);
      r = await cli(['--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /catchupWindow from the\nspec, default 1h/);

      const t0 = Date.now();
      r = await cli(['list', '--spec', file], { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^stanzactl schedule list: cannot reach Temporal at 127\.0\.0\.1:\d+/);
      console.log(`unreachable server reported after ${Date.now() - t0} ms`);

      writeFileSync(file, JSON.stringify(specFor('cli', undefined)));
      r = await cli(['apply', '--spec', file]);
      assert.equal(r.stdout, 'backup-cli@backup-srv-full: deleted\nbackup-cli@backup-srv-diff: deleted');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
