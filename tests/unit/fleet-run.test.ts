import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mapBounded } from '../../src/bounded';
import { runFleet, stanzaLabels } from '../../src/commands/fleet-run';
import { smallSpec } from './small-spec';

const specFile = (stanza: string, host = 'backup-srv') => {
  const spec = smallSpec({ stanza });
  return { file: `/fleet/${stanza}.yaml`, spec: { ...spec, repository: { ...spec.repository, host } } };
};

describe('runs over a fleet', () => {
  test('every run starts before any ends; one line as each starts and ends; exit 1 when any failed', async () => {
    const lines: string[] = [];
    let started = 0;
    const code = await runFleet([specFile('alpha'), specFile('beta'), specFile('gamma')], async (spec, start) => {
      start(`backup-${spec.stanza}-manual`);
      started++;
      await new Promise((r) => setTimeout(r, 10));
      assert.equal(started, 3, 'all started before this one ends');
      if (spec.stanza === 'beta') throw new Error('the repository host is away');
      return { ok: spec.stanza !== 'gamma', line: `${spec.stanza} done` };
    }, (l) => lines.push(l));
    assert.equal(code, 1);
    assert.deepEqual(lines.slice(0, 3), ['alpha: workflow backup-alpha-manual', 'beta: workflow backup-beta-manual', 'gamma: workflow backup-gamma-manual']);
    assert.deepEqual(lines.slice(3, 6).sort(), ['alpha: alpha done', 'beta: FAILED: the repository host is away', 'gamma: gamma done']);
    assert.equal(lines[6], '3 stanzas: 1 ok, 2 failed');
    assert.equal(await runFleet([specFile('alpha')], async () => ({ ok: true, line: 'fine' }), () => {}), 0);
  });

  test('a stanza on two repository hosts is named with its host', () => {
    assert.deepEqual(stanzaLabels([specFile('alpha', 'r1'), specFile('alpha', 'r2'), specFile('beta')]), ['alpha (r1)', 'alpha (r2)', 'beta']);
  });

  test('mapBounded keeps at most the limit in flight and the items\' order', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapBounded(Array.from({ length: 50 }, (_, i) => i), 16, async (i) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, (i * 7) % 5));
      inFlight--;
      return i * 2;
    });
    assert.equal(most, 16);
    assert.deepEqual(out, Array.from({ length: 50 }, (_, i) => i * 2));
    assert.deepEqual(await mapBounded([], 16, async () => 1), []);
  });
});
