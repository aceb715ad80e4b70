import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, specDifferences } from '../../src/spec/compare';

test('canonicalJson ignores key order at every level, keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: null } }), canonicalJson({ a: { c: null, d: [2, 1] }, b: 1 }));
  assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
});

test('specDifferences names the top-level fields that differ, as the workflow would receive them', () => {
  const spec = { stanza: 'demo', nodes: [{ name: 'pg1', role: 'primary' }], backups: { fromStandby: false }, ssh: { user: 'root', port: undefined } };
  assert.deepEqual(specDifferences(spec, structuredClone({ ...spec, ssh: { user: 'root' } })), []);
  assert.deepEqual(specDifferences(spec, { ...spec, nodes: [{ role: 'primary', name: 'pg1' }] }), []);
  assert.deepEqual(specDifferences(spec, { ...spec, backups: { fromStandby: true }, nodes: [] }), ['backups', 'nodes']);
  const { backups: _dropped, ...without } = spec;
  assert.deepEqual(specDifferences(spec, without), ['backups']);
});
