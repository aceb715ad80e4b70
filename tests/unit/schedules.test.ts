import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { outcomeOf } from '../../src/schedules/list';
import { legacyToReplace, type LegacySchedule } from '../../src/schedules/migrate';
import {
  canonicalJson,
  DEFAULT_CATCHUP_WINDOW,
  describedParts,
  desiredParts,
  desiredSchedule,
  desiredStatusSchedule,
  differences,
  planTypes,
  type StanzaScheduleOptions,
  type DescribedSchedule,
} from '../../src/schedules/plan';
import { durationMs } from '../../src/spec/duration';
import { parseSpec } from '../../src/spec/load';
import { OFFSITE_KINDS, type Spec } from '../../src/spec/schema';

const fixtures = resolve(__dirname, '../../../tests/fixtures/spec');
const demoYaml = readFileSync(`${fixtures}/demo.yaml`, 'utf8');

function specWith(schedule: Record<string, string> | undefined): Spec {
  const raw = JSON.parse(JSON.stringify(parseSpec(demoYaml, 'demo.yaml')));
  raw.backups = schedule ? { ...raw.backups, schedule } : raw.backups;
  return parseSpec(JSON.stringify(raw), 'spec.json');
}

function withDrills(spec: Spec, schedule?: string, timezone?: string): Spec {
  const drills = { host: 'drill-srv', dataDir: '/var/lib/postgresql/15/drill', port: 5433, ...(schedule && { schedule }), ...(timezone && { timezone }) };
  return parseSpec(JSON.stringify({ ...spec, drills }), 'spec.json');
}

const ISSUE = { full: '30 1 * * 0', diff: '30 1 * * 1-6', timezone: 'UTC', catchupWindow: '1h' };

/** What describe() returns for a schedule created from `o`, as observed on the dev server: the cron
 * compiled into a calendar keeping only its comment, no timezone as '', args decoded from JSON. */
function serverEcho(o: StanzaScheduleOptions): DescribedSchedule {
  const reversedKeys = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversedKeys(x)])) : v;
  return {
    spec: {
      calendars: (o.spec.cronExpressions ?? []).map((c) => ({ comment: c.slice(c.indexOf('#') + 1).trim() }) as never),
      intervals: (o.spec.intervals ?? []).map((i) => ({ every: Number(i.every), offset: 0 })),
      timezone: o.spec.timezone ?? '',
    },
    action: {
      type: 'startWorkflow',
      workflowType: o.action.workflowType as string,
      workflowId: o.action.workflowId!,
      taskQueue: o.action.taskQueue,
      args: (JSON.parse(JSON.stringify(o.action.args)) as unknown[]).map(reversedKeys),
      staticSummary: o.action.staticSummary,
    },
    policies: { overlap: o.policies!.overlap!, catchupWindow: Number(o.policies!.catchupWindow), pauseOnFailure: false },
  };
}

describe('desired schedule from the spec', () => {
  test('the issue example: id, action, args, cron, timezone, policies', () => {
    const spec = specWith(ISSUE);
    const o = desiredSchedule(spec, 'diff');
    assert.equal(o.scheduleId, 'backup-demo@backup-srv-diff');
    assert.deepEqual(o.spec, { cronExpressions: ['30 1 * * 1-6 # cron 30 1 * * 1-6'], timezone: 'UTC' });
    assert.equal(o.action.workflowType, 'backupStanza');
    assert.equal(o.action.taskQueue, 'stanzactl');
    assert.equal(o.action.workflowId, 'backup-demo@backup-srv-diff');
    // The backup gets the spec without the schedules' timing; the rest of it as it is.
    const { schedule: _timing, ...backups } = spec.backups!;
    assert.deepEqual(o.action.args, [{ ...spec, backups }, { type: 'diff' }]);
    assert.deepEqual(backups, { fromStandby: false });
    assert.match(o.action.staticSummary!, /diff backup of stanza demo/);
    assert.deepEqual(o.policies, { overlap: 'SKIP', catchupWindow: 3_600_000, pauseOnFailure: false });
  });

  test('without timezone and catchupWindow: no timezone sent, the documented default window', () => {
    const o = desiredSchedule(specWith({ full: '0 2 * * *' }), 'full', 'q-test');
    assert.deepEqual(o.spec, { cronExpressions: ['0 2 * * * # cron 0 2 * * *'] });
    assert.equal(o.action.taskQueue, 'q-test');
    assert.equal(o.policies!.catchupWindow, durationMs(DEFAULT_CATCHUP_WINDOW));
  });

  test('a catchupWindow below the server minimum is refused with the field named', () => {
    assert.throws(() => desiredSchedule(specWith({ full: '0 2 * * *', catchupWindow: '5s' }), 'full'), /backups\.schedule\.catchupWindow: 5s/);
  });

  test('a type without cron has no desired schedule', () => {
    assert.throws(() => desiredSchedule(specWith({ full: '0 2 * * *' }), 'incr'), /backups\.schedule\.incr is not set/);
    assert.throws(() => desiredSchedule(withDrills(specWith(undefined)), 'drill'), /drills\.schedule is not set/);
  });

  test('the drill schedule: drill-<cluster> starts restoreDrill with the spec less every schedule timing', () => {
    const spec = withDrills(specWith(ISSUE), '0 3 * * *', 'Europe/Paris');
    const o = desiredSchedule(spec, 'drill');
    assert.equal(o.scheduleId, 'drill-demo@backup-srv');
    assert.equal(o.action.workflowId, 'drill-demo@backup-srv');
    assert.equal(o.action.workflowType, 'restoreDrill');
    assert.deepEqual(o.spec, { cronExpressions: ['0 3 * * * # cron 0 3 * * *'], timezone: 'Europe/Paris' });
    const [arg] = o.action.args as [Spec];
    assert.equal(arg.backups?.schedule, undefined);
    assert.deepEqual(arg.drills, { host: 'drill-srv', dataDir: '/var/lib/postgresql/15/drill', port: 5433 });
    assert.match(o.action.staticSummary!, /restore drill on drill-srv of stanza demo \(0 3 \* \* \* Europe\/Paris\)/);
    // Editing the drill's cron leaves the backup schedules' arguments alone, and the other way round.
    assert.equal(canonicalJson(desiredSchedule(withDrills(specWith(ISSUE), '0 4 * * *'), 'full').action.args), canonicalJson(desiredSchedule(spec, 'full').action.args));
    assert.equal(canonicalJson(desiredSchedule(withDrills(specWith({ full: '0 1 * * *' }), '0 3 * * *', 'Europe/Paris'), 'drill').action.args), canonicalJson(o.action.args));
  });
});

describe('differs?', () => {
  const spec = specWith(ISSUE);
  const onServer = serverEcho(desiredSchedule(spec, 'full'));

  test('the same spec, as the server echoes it back, is equal', () => {
    assert.deepEqual(differences(desiredParts(desiredSchedule(spec, 'full')), describedParts(onServer)), []);
    assert.deepEqual(differences(desiredParts(desiredSchedule(specWith(ISSUE), 'full')), describedParts(onServer)), []);
  });

  test('cron, timezone, window, task queue and args changes are named', () => {
    const diff = (s: Record<string, string>, queue?: string) => differences(desiredParts(desiredSchedule(specWith(s), 'full', queue)), describedParts(onServer));
    assert.deepEqual(diff({ ...ISSUE, full: '0 3 * * 0' }), ['cron', 'summary']);
    assert.deepEqual(diff({ ...ISSUE, timezone: 'Europe/Paris' }), ['timezone', 'summary']);
    assert.deepEqual(diff({ ...ISSUE, catchupWindow: '2h' }), ['catchupWindowMs']);
    // Another type's cron is not this schedule's business.
    assert.deepEqual(diff({ ...ISSUE, diff: '0 4 * * *', incr: '0 * * * *' }), []);
    assert.deepEqual(diff(ISSUE, 'other-queue'), ['taskQueue']);
    // A spec change outside the schedule still reaches the backup through its args.
    const moved = JSON.parse(JSON.stringify(spec));
    moved.repository.path = '/elsewhere';
    assert.deepEqual(differences(desiredParts(desiredSchedule(moved, 'full')), describedParts(onServer)), ['args']);
  });

  test('a schedule edited outside stanzactl differs', () => {
    const edited = { ...onServer, spec: { ...onServer.spec, calendars: [{} as never] }, policies: { ...onServer.policies, overlap: 'ALLOW_ALL' as const } };
    assert.deepEqual(differences(desiredParts(desiredSchedule(spec, 'full')), describedParts(edited)), ['cron', 'overlap']);
  });

  test('canonical JSON ignores key order and undefined members', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: undefined, c: [2, { y: 1, x: 0 }] } }), canonicalJson({ a: { c: [2, { x: 0, y: 1 }] }, b: 1 }));
    assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
  });
});

describe('the status schedule', () => {
  const withStatus = (every: string, schedule: Record<string, string> | undefined = ISSUE): Spec => parseSpec(JSON.stringify({ ...specWith(schedule), status: { every } }), 'spec.json');

  test('status-<cluster> runs stanzaStatus every status.every, with the spec minus the timing, never catching up', () => {
    const spec = withStatus('1m');
    const o = desiredStatusSchedule(spec);
    assert.equal(o.scheduleId, 'status-demo@backup-srv');
    assert.deepEqual(o.spec, { intervals: [{ every: 60_000 }] });
    assert.equal(o.action.workflowType, 'stanzaStatus');
    assert.equal(o.action.workflowId, 'status-demo@backup-srv');
    const { status: _every, ...rest } = spec;
    const { schedule: _timing, ...backups } = rest.backups!;
    assert.deepEqual(o.action.args, [{ ...rest, backups }]);
    assert.equal(o.action.workflowExecutionTimeout, '2 minutes');
    assert.deepEqual(o.policies, { overlap: 'SKIP', catchupWindow: 10_000, pauseOnFailure: false });
  });

  test('as the server echoes it back it is equal; a new interval is named; status.every is no backup schedule\'s business', () => {
    const onServer = serverEcho(desiredStatusSchedule(withStatus('1m')));
    assert.deepEqual(differences(desiredParts(desiredStatusSchedule(withStatus('1m'))), describedParts(onServer)), []);
    assert.deepEqual(differences(desiredParts(desiredStatusSchedule(withStatus('5m'))), describedParts(onServer)), ['cron', 'summary']);
    assert.deepEqual(differences(desiredParts(desiredSchedule(withStatus('5m'), 'full')), describedParts(serverEcho(desiredSchedule(specWith(ISSUE), 'full')))), []);
    // A backup cron is none of the status schedule's business either.
    assert.deepEqual(differences(desiredParts(desiredStatusSchedule(withStatus('1m', { full: '0 5 * * *' }))), describedParts(onServer)), []);
  });

  test('status.every below 10s is refused with its path', () => {
    assert.throws(() => withStatus('5s'), /status\.every.*at least 10s/s);
    assert.doesNotThrow(() => withStatus('10s'));
  });
});

describe('schedules under the ids of an older stanzactl', () => {
  const spec = withDrills(parseSpec(JSON.stringify({ ...specWith(ISSUE), status: { every: '1m' } }), 'spec.json'), '0 3 * * *');
  const onHost = (host: string): Spec => ({ ...spec, repository: { ...spec.repository, host } });
  /** What describe() shows of a schedule an older stanzactl created for `s` under `backup-<stanza>-<type>` (its action's args were the same). */
  const old = (s: Spec, type: LegacySchedule['type']): LegacySchedule => ({
    id: `old-${type}`,
    type,
    description: { action: serverEcho(type === 'status' ? desiredStatusSchedule(s) : desiredSchedule(s, type)).action, state: { paused: false } },
  });

  test('this cluster\'s are replaced, whatever kind', () => {
    const found = (['full', 'diff', 'drill', 'status'] as const).map((t) => old(spec, t));
    assert.deepEqual(legacyToReplace(spec, found).map((l) => l.id), ['old-full', 'old-diff', 'old-drill', 'old-status']);
  });

  test('another repository host\'s cluster of the same stanza name keeps its schedule', () => {
    const found = [old(onHost('backup-srv-2'), 'full'), old(spec, 'diff')];
    assert.deepEqual(legacyToReplace(spec, found).map((l) => l.id), ['old-diff']);
    assert.deepEqual(legacyToReplace(onHost('backup-srv-2'), found).map((l) => l.id), ['old-full']);
  });

  test('a schedule that starts another workflow than its kind\'s, or without a spec, is not stanzactl\'s', () => {
    const drillAsFull = { ...old(spec, 'drill'), type: 'full' as const };
    const edited = old(spec, 'diff');
    const noArgs = { ...edited, description: { ...edited.description, action: { ...edited.description.action, args: [] } } };
    const otherType = { ...edited, description: { ...edited.description, action: { ...edited.description.action, workflowType: 'somethingElse' } } };
    assert.deepEqual(legacyToReplace(spec, [drillAsFull, noArgs, otherType]), []);
  });
});

describe('plan of types', () => {
  test('types with a cron are kept, the others deleted', () => {
    assert.deepEqual(planTypes(specWith(ISSUE)), { keep: ['full', 'diff'], remove: ['incr', ...OFFSITE_KINDS, 'drill'] });
    assert.deepEqual(planTypes(specWith({ incr: '0 * * * *' })), { keep: ['incr'], remove: ['full', 'diff', ...OFFSITE_KINDS, 'drill'] });
    assert.deepEqual(planTypes(withDrills(specWith({ incr: '0 * * * *' }), '0 3 * * *')), { keep: ['incr', 'drill'], remove: ['full', 'diff', ...OFFSITE_KINDS] });
    assert.deepEqual(planTypes(withDrills(specWith(undefined))), { keep: [], remove: ['full', 'diff', 'incr', ...OFFSITE_KINDS, 'drill'] });
  });

  test('no schedule section: every type is deleted', () => {
    assert.deepEqual(planTypes(specWith(undefined)), { keep: [], remove: ['full', 'diff', 'incr', ...OFFSITE_KINDS, 'drill'] });
  });
});

describe('run outcome', () => {
  test('the backup (or drill) result says done or skipped; anything else is completed', () => {
    assert.deepEqual(outcomeOf({ status: 'done', summary: 'backup 20250101-013000F, RTO 9 s, RPO 0 s', drill: {} }), { status: 'done', detail: 'backup 20250101-013000F, RTO 9 s, RPO 0 s' });
    assert.deepEqual(outcomeOf({ status: 'done', backup: { label: '20250101-013000F' } }), { status: 'done', detail: '20250101-013000F' });
    assert.deepEqual(outcomeOf({ status: 'skipped', reason: 'backup-demo-full-x runs' }), { status: 'skipped', detail: 'backup-demo-full-x runs' });
    assert.deepEqual(outcomeOf(null), { status: 'completed' });
    assert.deepEqual(outcomeOf('x'), { status: 'completed' });
  });
});
