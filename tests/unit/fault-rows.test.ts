import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import type { FaultEntry, FaultRecord } from '../../dev/faults';
import { rowsOf } from '../e2e/fault-rows';

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

const entry = (activityType: string): FaultEntry => ({ id: `provisionCluster/${activityType}/b`, workflowType: 'provisionCluster', activityType, point: 'b' });
const ref = (activityType: string, activityId: string) => ({ workflowId: 'w', runId: 'r', activityType, activityId, attempt: 1 });
const kill = (activityType: string, activityId: string, ms: number, inFlight: ReturnType<typeof ref>[] = []): FaultRecord =>
  ({ kind: 'kill', at: ms, id: `provisionCluster/${activityType}/b`, point: 'b', ...ref(activityType, activityId), inFlight });

test('a row: resume from the kill to the retried start; a re-run reporting changed, a late resume and a kill that never fired are named', () => {
  const history = { events: [
    ...activity(1, 'ensureStanza', 2, T + 6_000, { changed: false }),
    ...activity(2, 'ensurePrimary', 2, T + 30_000 + 8_000, { changed: true }),
    ...activity(3, 'checkStanza', 1, T + 50_000, { changed: false }),
  ] };
  const log = [kill('ensureStanza', '1', T), kill('ensurePrimary', '2', T + 30_000)];
  const { rows, problems } = rowsOf('provisionCluster', 'b', ['ensureStanza', 'ensurePrimary', 'checkStanza'].map(entry), log, history, 'r');
  assert.deepEqual(rows.map((r) => [r.step, r.resumeSeconds, r.outcome]), [
    ['ensureStanza', 6, 'ok'],
    ['ensurePrimary', 8, 'resumed after 8.0 s (limit 7 s); the re-run of the completed step reported "changed"'],
    ['checkStanza', undefined, 'the kill never fired'],
  ]);
  assert.deepEqual(problems, []);
});

test('a step killed again in its retry is held to the limit plus the backoff its retry policy adds', () => {
  const events = activity(1, 'ensureStanza', 3, T + 7_800, { changed: true });
  Object.assign(events[0].activityTaskScheduledEventAttributes!, { retryPolicy: { initialInterval: { seconds: 1 }, backoffCoefficient: 2, maximumInterval: { seconds: 30 } } });
  const log = [{ ...kill('ensureStanza', '1', T), attempt: 2 }];
  const { rows } = rowsOf('provisionCluster', 'a', [{ ...entry('ensureStanza'), id: 'provisionCluster/ensureStanza/b' }], log, { events }, 'r');
  assert.deepEqual([rows[0].limitSeconds, rows[0].outcome], [8, 'ok']);
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
  const { rows, problems } = rowsOf('provisionCluster', 'b', [entry('prepareStandby')], log, history, 'r');
  assert.equal(rows[0].resumeSeconds, 5.5, 'resumed from the later kill that also ended this activity, not from an unrelated one');
  assert.deepEqual(problems, ['ensureStanza (activity 3) ran 2 times without a kill']);
});
