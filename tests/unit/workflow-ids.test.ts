import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusWorkflowId } from '../../src/commands/status';
import { SCHEDULE_KINDS, type Spec } from '../../src/spec/schema';
import {
  backupWorkflowId, clusterKey, drillWorkflowId, failoverWorkflowId, legacyRehearsalWorkflowId, legacyScheduleId, planWorkflowId, provisionWorkflowId,
  rebuildWorkflowId, recoverWorkflowId, rehearsalWorkflowId, restoreWorkflowId, scheduleId, switchoverWorkflowId, type AppliedKind, type ClusterRef,
} from '../../src/workflow-ids';

const AT = new Date('2026-01-02T03:04:05.678Z');
const KINDS: readonly AppliedKind[] = [...SCHEDULE_KINDS, 'status'];

/** Every id of a cluster, by name; statusWorkflowId without its random suffix. */
function ids(c: ClusterRef): Record<string, string> {
  return {
    provision: provisionWorkflowId(c),
    backup: backupWorkflowId(c),
    ...Object.fromEntries(KINDS.map((k) => [`schedule ${k}`, scheduleId(c, k)])),
    rebuild: rebuildWorkflowId(c, 'pg2-srv'),
    drill: drillWorkflowId(c),
    restore: restoreWorkflowId(c, 'drill-srv'),
    recover: recoverWorkflowId(c),
    rehearsal: rehearsalWorkflowId(c),
    ...Object.fromEntries((['recover', 'switchover', 'failover'] as const).map((a) => [`${a} plan`, planWorkflowId(a, c, AT)])),
    switchover: switchoverWorkflowId(c),
    failover: failoverWorkflowId(c),
    status: statusWorkflowId(c as Spec).replace(/-[0-9a-f]{8}$/, ''),
  };
}

const onHost = (host: string): ClusterRef => ({ stanza: 'main', repository: { host } });

test('two clusters of one stanza name on two repository hosts share no id; one cluster always gets the same ones', () => {
  const hosts = ['backup-srv.example.com', 'backup-srv', '10.0.0.5', 'fd00::5'];
  const all = hosts.map((h) => ids(onHost(h)));
  for (const name of Object.keys(all[0])) {
    const each = all.map((x) => x[name]);
    assert.equal(new Set(each).size, hosts.length, `${name}: ${each.join(', ')}`);
  }
  // Nor does any id of one cluster equal another kind's id of any cluster, but where it is meant to:
  // a manual drill takes the drill schedule's id, a status run the status schedule's (plus its suffix).
  for (const x of all) assert.equal(x.drill, x['schedule drill']);
  for (const x of all) assert.equal(x.status, x['schedule status']);
  const flat = all.flatMap(({ drill: _d, status: _s, ...x }) => Object.values(x));
  assert.equal(new Set(flat).size, flat.length);
  assert.deepEqual(ids(onHost('backup-srv')), ids({ stanza: 'main', repository: { host: 'backup-srv' } }));
});

test('ids name the stanza and its repository host: <stanza>@<host>', () => {
  const c = onHost('backup-srv.example.com');
  assert.equal(clusterKey(c), 'main@backup-srv.example.com');
  assert.equal(clusterKey(onHost('fd00::5')), 'main@fd00::5');
  assert.equal(backupWorkflowId(c), 'backup-main@backup-srv.example.com');
  assert.equal(scheduleId(c, 'full'), 'backup-main@backup-srv.example.com-full');
  assert.equal(scheduleId(c, 'drill'), 'drill-main@backup-srv.example.com');
  assert.equal(scheduleId(c, 'status'), 'status-main@backup-srv.example.com');
  assert.equal(rebuildWorkflowId(c, 'pg2-srv'), 'rebuild-main@backup-srv.example.com-pg2-srv');
  assert.equal(planWorkflowId('recover', c, AT), 'recover-plan-main@backup-srv.example.com-2026-01-02T030405678Z');
});

test('the ids of older stanzactl versions stay as they were: schedules to replace, rehearsals recorded in histories', () => {
  assert.deepEqual(KINDS.filter((k) => !k.startsWith('offsite-')).map((k) => legacyScheduleId('main', k)), ['backup-main-full', 'backup-main-diff', 'backup-main-incr', 'drill-main', 'status-main']);
  assert.equal(legacyRehearsalWorkflowId('main'), 'rehearse-main');
});
