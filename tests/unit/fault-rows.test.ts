import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { controlServer, ensureEnabled } from '../../src/activities/postgres-service';
import { HostOps } from '../../src/host/host-ops';
import type { FaultEntry, FaultRecord } from '../../dev/faults';
import { controlCommand, type ControlAction } from '../../src/render/postgres-control';
import { describe } from '../../src/shell/command';
import type { Spec } from '../../src/spec/schema';
import { entriesFor, rowsOf, type Workflow } from '../e2e/fault-rows';

const T = 1_800_000_000_000;
const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
const json = (v: unknown) => ({ payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(v)) }] });

/** One activity: scheduled, its last attempt started at `startedAt`, completed with `result`. */
function activity(id: number, type: string, attempt: number, startedAt: number, result: unknown): temporal.api.history.v1.IHistoryEvent[] {
  const scheduled = id * 10;
  return [
    { eventId: scheduled, activityTaskScheduledEventAttributes: { activityId: String(id), activityType: { name: type }, heartbeatTimeout: { seconds: 5 } } },
    { eventId: scheduled + 1, eventTime: at(startedAt), activityTaskStartedEventAttributes: { scheduledEventId: scheduled, attempt } },
    { eventId: scheduled + 2, activityTaskCompletedEventAttributes: { scheduledEventId: scheduled, result: json(result) } },
  ] as unknown as temporal.api.history.v1.IHistoryEvent[];
}

const provisionB = { layout: 'debian', workflow: 'provisionCluster', point: 'b' } as const;
const entry = (activityType: string): FaultEntry => ({ id: `provisionCluster/${activityType}/b`, workflowType: 'provisionCluster', activityType, point: 'b' });
const ref = (activityType: string, activityId: string) => ({ workflowId: 'w', runId: 'r', activityType, activityId, attempt: 1 });
const kill = (activityType: string, activityId: string, ms: number, inFlight: ReturnType<typeof ref>[] = []): FaultRecord =>
  ({ kind: 'kill', at: ms, id: `provisionCluster/${activityType}/b`, point: 'b', ...ref(activityType, activityId), inFlight });

test('a row: resume from the kill to the retried start; a re-run reporting changed, a late resume and a kill that never fired are named', () => {
  const history = { events: [
    ...activity(1, 'ensureStanza', 2, T + 6_000, { changed: false }),
    ...activity(2, 'ensurePrimary', 2, T + 30_000 + 9_000, { changed: true }),
    ...activity(3, 'checkStanza', 1, T + 50_000, { changed: false }),
  ] };
  const log = [kill('ensureStanza', '1', T), kill('ensurePrimary', '2', T + 30_000)];
  const { rows, problems } = rowsOf(provisionB, ['ensureStanza', 'ensurePrimary', 'checkStanza'].map(entry), log, history, 'r');
  assert.deepEqual(rows.map((r) => [r.step, r.resumeSeconds, r.outcome]), [
    ['ensureStanza', 6, 'ok'],
    ['ensurePrimary', 9, 'resumed after 9.0 s (limit 8 s); the re-run of the completed step reported "changed"'],
    ['checkStanza', undefined, 'the kill never fired'],
  ]);
  assert.deepEqual(problems, []);
});

test('a step killed again in its retry is held to the limit plus the backoff its retry policy adds', () => {
  const events = activity(1, 'ensureStanza', 3, T + 8_800, { changed: true });
  Object.assign(events[0].activityTaskScheduledEventAttributes!, { retryPolicy: { initialInterval: { seconds: 1 }, backoffCoefficient: 2, maximumInterval: { seconds: 30 } } });
  const log = [{ ...kill('ensureStanza', '1', T), attempt: 2 }];
  const { rows } = rowsOf({ ...provisionB, point: 'a' }, [{ ...entry('ensureStanza'), id: 'provisionCluster/ensureStanza/b' }], log, { events }, 'r');
  assert.deepEqual([rows[0].limitSeconds, rows[0].outcome], [9, 'ok']);
});

test('only killed attempts and those in flight beside them may run twice; a later kill is the one resumed from', () => {
  const history = { events: [
    ...activity(1, 'prepareStandby', 2, T + 6_500, { changed: false }),
    ...activity(2, 'prepareStandby', 3, T + 12_000, { changed: true }),
    ...activity(3, 'ensureStanza', 2, T + 7_000, { changed: true }),
  ] };
  // Activity 2 was in flight at the first kill, activity 1 at the second; a third kill elsewhere is not theirs.
  const log = [
    kill('prepareStandby', '1', T, [ref('prepareStandby', '2')]),
    { ...kill('startStandby', '2', T + 1_000, [ref('prepareStandby', '1')]), id: 'other' },
    { ...kill('checkStanza', '4', T + 6_000), id: 'elsewhere' },
  ];
  const { rows, problems } = rowsOf(provisionB, [entry('prepareStandby')], log, history, 'r');
  assert.equal(rows[0].resumeSeconds, 5.5, 'resumed from the later kill that also ended this activity, not from an unrelated one');
  assert.deepEqual(problems, ['ensureStanza (activity 3) ran 2 times without a kill']);
});

test('an attempt lost to a sibling\'s kill before the hook saw it in flight: resumed from that kill, its backoff allowed', () => {
  const history = { events: [...activity(1, 'ensureSshTrust', 3, T + 13_000, { changed: false }), ...activity(2, 'ensureStanza', 2, T + 12_000, { changed: false })] };
  const log = [kill('ensureSshTrust', '1', T), { ...kill('ensureStanza', '2', T + 6_500), id: 'sibling' }];
  const { rows, problems } = rowsOf({ ...provisionB, point: 'a' }, [{ ...entry('ensureSshTrust'), id: 'provisionCluster/ensureSshTrust/b' }], log, history, 'r');
  assert.deepEqual([rows[0].resumeSeconds, rows[0].limitSeconds, rows[0].outcome], [6.5, 9, 'ok']);
  assert.deepEqual(problems, []);
});

const WORKFLOWS: Workflow[] = ['provisionCluster', 'backupStanza', 'rebuildStandby', 'recoverCluster', 'switchoverCluster', 'failoverCluster', 'rejoinStandby'];

test('Debian hosts: every step of every workflow at both points, less the one that touches no host at point a', () => {
  const count = (point: 'a' | 'b') => WORKFLOWS.map((workflow) => entriesFor({ layout: 'debian', workflow, point }).length);
  assert.deepEqual([count('a'), count('b')], [[17, 5, 13, 15, 17, 15, 3], [17, 5, 14, 15, 17, 15, 3]]);
});

test('systemd hosts: only the steps that control a server, killed right after systemctl, never after the facts read before it', async () => {
  const steps = (point: 'a' | 'b') => Object.fromEntries(WORKFLOWS.map((workflow) => [workflow, entriesFor({ layout: 'systemd-pgdg', workflow, point }).map((e) => e.activityType)]));
  const control = { provisionCluster: ['ensurePrimary', 'startStandby'], backupStanza: [], rebuildStandby: ['prepareStandby', 'startStandby'], recoverCluster: ['stopPostgres', 'startStandby'], switchoverCluster: [], failoverCluster: [], rejoinStandby: [] };
  assert.deepEqual([steps('a'), steps('b')], [control, control]);
  const patterns = new Set(WORKFLOWS.flatMap((workflow) => entriesFor({ layout: 'systemd-pgdg', workflow, point: 'a' }).map((e) => e.command)));
  assert.equal(patterns.size, 1);
  const pattern = new RegExp([...patterns][0]!);

  // Every command the control steps' server calls run, as the fault hook sees them.
  const pgdg: Spec['postgres'] = { version: 15, osUser: 'postgres', port: 5432, dataDir: '/var/lib/pgsql/15/data', binDir: '/usr/pgsql-15/bin', control: { type: 'systemd', unit: 'postgresql-15' } };
  const facts = 'systemd yes\npostmaster 812\nunit postgresql-15\nId=postgresql-15.service\nLoadState=loaded\nActiveState=active\nMainPID=812\nEnvironment=PGDATA=/var/lib/pgsql/15/data\n';
  const seen: string[] = [];
  const ops = new HostOps({
    run: async (_host, c) => {
      const text = describe(c);
      seen.push(text);
      return { code: 0, stdout: text.includes('systemctl show') ? facts : 'disabled\n', stderr: '' };
    },
    close: async () => undefined,
  });
  const host = { name: 'pg1-srv', host: '10.0.0.1' };
  const actions: ControlAction[] = ['start', 'stop', 'restart', 'reload'];
  for (const action of actions) await controlServer(ops, host, pgdg, action);
  assert.equal(await ensureEnabled(ops, host, pgdg), true);
  assert.equal(seen.length, 2 * actions.length + 3, 'a facts read before each action; is-enabled, facts, enable');
  assert.deepEqual(seen.filter((t) => pattern.test(t)), actions.map((a) => describe(controlCommand(pgdg, a))));
});
