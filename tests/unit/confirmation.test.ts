import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { RecoverPlan } from '../../src/activities/recover';
import { confirmationProblem, planId, rebuildFacts, recoverFacts, restoreFacts } from '../../src/spec/confirmation';
import { inputIssues } from '../../src/spec/validate';
import { smallSpec } from './small-spec';

const spec = smallSpec({ nodes: [{ name: 'pg1', role: 'primary' }, { name: 'pg2', host: '10.0.0.2', role: 'standby' }] });
const plan: RecoverPlan = {
  changed: false, target: 'time 2026-12-01 10:00:00+00', backup: { label: '20261201-090000F', type: 'full', stoppedAt: 1, why: 'newest before' },
  primary: 'pg1', primarySystemId: '7400000000000000001', timeline: 3, lsn: '0/5000000', standbys: ['pg2'], lost: 'x', detail: 'x',
};

test('a plan id is a digest of the facts, whatever their order; every fact counts', () => {
  assert.equal(planId({ a: 1, b: 'x' }), planId({ b: 'x', a: 1 }));
  assert.match(planId({ a: 1 }), /^plan-[0-9a-f]{20}$/);
  const expected = createHash('sha256').update(JSON.stringify([['a', 1], ['b', 'x']])).digest('hex').slice(0, 20);
  assert.equal(planId({ a: 1, b: 'x' }), `plan-${expected}`);
  assert.notEqual(planId({ a: 1 }), planId({ a: '1' }));
  assert.notEqual(planId({ s: ['pg2', 'pg3'] }), planId({ s: ['pg2'] }));
});

test('recover: another backup, timeline, cluster, standby or target is another plan; the LSN (which moves) is not part of it', () => {
  const id = planId(recoverFacts(spec, plan));
  assert.equal(planId(recoverFacts(spec, { ...plan, lsn: '0/6000000' })), id);
  for (const changed of [
    { backup: { ...plan.backup, label: '20261201-093000F' } }, { timeline: 4 }, { primarySystemId: '7400000000000000002' },
    { standbys: [] }, { target: 'time 2026-12-01 10:00:01+00' }, { primary: 'pg2' },
    { backup: { ...plan.backup, repo: 1 as const } }, { backup: { ...plan.backup, repo: 2 as const } },
  ]) assert.notEqual(planId(recoverFacts(spec, { ...plan, ...changed })), id, JSON.stringify(changed));
  assert.notEqual(planId(recoverFacts(spec, { ...plan, backup: { ...plan.backup, repo: 1 } })), planId(recoverFacts(spec, { ...plan, backup: { ...plan.backup, repo: 2 } })), 'repo1 or repo2');
  assert.notEqual(planId(recoverFacts({ ...spec, stanza: 'beta' }, plan)), id, 'another stanza');
});

test('rebuild and restore: the node (its host, data directory) and the copy\'s place, target, backup and reuse', () => {
  const rebuild = planId(rebuildFacts(spec, 'pg2'));
  assert.notEqual(planId(rebuildFacts(spec, 'pg1')), rebuild);
  assert.notEqual(planId(rebuildFacts({ ...spec, postgres: { ...spec.postgres, dataDir: '/other' } }, 'pg2')), rebuild);
  const request = { place: { host: 'scratch', dataDir: '/r', port: 5433 }, target: { type: 'default' as const }, reuse: false };
  const restore = planId(restoreFacts(spec, request));
  assert.notEqual(planId(restoreFacts(spec, { ...request, reuse: true })), restore);
  assert.notEqual(planId(restoreFacts(spec, { ...request, place: { ...request.place, dataDir: '/s' } })), restore);
  assert.notEqual(planId(restoreFacts(spec, { ...request, set: '20261201-090000F' })), restore);
  assert.notEqual(planId(restoreFacts(spec, { ...request, target: { type: 'immediate' } })), restore);
  assert.notEqual(rebuild, restore);
});

test('the refusal: none given, or one of another plan, each says why and what the plan destroys now', () => {
  const facts = rebuildFacts(spec, 'pg2');
  assert.equal(confirmationProblem(facts, planId(facts)), undefined);
  assert.match(confirmationProblem(facts, undefined) ?? '', /^rebuild of stanza alpha refused: the request carries no confirmed plan id \(confirm\).*node pg2; host 10\.0\.0\.2; dataDir \/d.*"stanzactl rebuild"/);
  assert.match(confirmationProblem(facts, planId(rebuildFacts(spec, 'pg1'))) ?? '', /^rebuild of stanza alpha refused: the plan confirmed \(plan-[0-9a-f]{20}\) is not the plan now \(.*node pg2.*\): it changed since it was shown/);
});

test('workflow input: confirm is a plan id or absent, in every destructive request', () => {
  const id = planId({ a: 1 });
  assert.deepEqual(inputIssues(spec, { node: 'pg2', options: { confirm: id } }), []);
  assert.deepEqual(inputIssues(spec, { recovery: { target: { type: 'immediate' }, confirm: id } }), []);
  assert.deepEqual(inputIssues(spec, { restore: { place: { host: 'scratch', dataDir: '/r', port: 5433 }, target: { type: 'default' }, reuse: false, confirm: id } }), []);
  assert.deepEqual(inputIssues(spec, { node: 'pg2', options: { confirm: 'yes' } }).map((i) => i.path), ['options.confirm']);
});
