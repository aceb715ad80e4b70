import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NodeRole } from '../../src/facts/node-role';
import { readTopology, withObservedRoles, type NodeSighting } from '../../src/facts/topology';
import { evaluate } from '../../src/status/policy';
import { renderText, statusReport } from '../../src/status/render';
import { smallSpec } from './small-spec';

const spec = smallSpec({ nodes: [{ name: 'pg1', host: '10.0.0.11', role: 'primary' }, { name: 'pg2', host: '10.0.0.12', role: 'standby' }, { name: 'pg3', host: '10.0.0.13', role: 'standby' }] });
const SYS = '7715105254503027037';

const primary = (timeline = 1, downstream = 2): NodeRole => ({ exists: true, running: true, systemId: SYS, controlState: 'in production', timeline, inRecovery: false, receiver: 'none', downstream });
const standby = (upstream: string, timeline = 1): NodeRole => ({ exists: true, running: true, systemId: SYS, controlState: 'in archive recovery', timeline, inRecovery: true, receiver: 'streaming', downstream: 0, upstream });
const stopped = (controlState: string, timeline = 1): NodeRole => ({ exists: true, running: false, systemId: SYS, controlState, timeline });
const sighted = (pg1: NodeRole | string, pg2: NodeRole | string, pg3: NodeRole | string): NodeSighting[] =>
  ([['pg1', '10.0.0.11', pg1], ['pg2', '10.0.0.12', pg2], ['pg3', '10.0.0.13', pg3]] as const).map(([name, address, r]) =>
    typeof r === 'string' ? { name, address, error: r } : { name, address, role: r });

describe('topology read from the hosts', () => {
  test('the spec\'s shape: the primary found, each standby\'s upstream named by the address it streams from', () => {
    const t = readTopology(spec, sighted(primary(), standby('10.0.0.11'), standby('10.0.0.12')));
    assert.equal(t.primary, 'pg1');
    assert.deepEqual(t.problems, []);
    assert.deepEqual(t.nodes.map((n) => [n.name, n.seenAs, n.upstream ?? '-', n.streaming]), [['pg1', 'primary', '-', false], ['pg2', 'standby', 'pg1', true], ['pg3', 'standby', 'pg2', true]]);
    assert.equal(withObservedRoles(spec, t), spec, 'the spec as it is when it is right');
  });

  test('a standby promoted behind the spec\'s back is the primary; the roles a workflow acts on follow it', () => {
    const t = readTopology(spec, sighted(stopped('shut down', 1), primary(2, 1), standby('10.0.0.12', 2)));
    assert.equal(t.primary, 'pg2');
    assert.deepEqual(t.problems, []);
    assert.deepEqual(withObservedRoles(spec, t).nodes.map((n) => [n.name, n.role]), [['pg1', 'standby'], ['pg2', 'primary'], ['pg3', 'standby']]);
    assert.deepEqual(spec.nodes.map((n) => n.role), ['primary', 'standby', 'standby'], 'the spec itself unchanged');
  });

  test('two primaries: none is chosen, and the split brain is named', () => {
    const t = readTopology(spec, sighted(primary(1, 0), primary(2, 0), standby('10.0.0.12', 2)));
    assert.equal(t.primary, null);
    assert.match(t.problems.join('\n'), /pg1 \(timeline 1\) and pg2 \(timeline 2\) all run as primaries: a split brain/);
    assert.equal(withObservedRoles(spec, t), spec);
  });

  test('a rebuild\'s target (apart) is the primary only when no other node runs as one', () => {
    // A standby promoted by mistake beside the real primary: no split brain to its own rebuild.
    const mistaken = readTopology(spec, sighted(primary(1, 1), primary(2, 0), standby('10.0.0.11')), 'pg2');
    assert.equal(mistaken.primary, 'pg1');
    assert.deepEqual(mistaken.problems, []);
    // The only primary stays the primary, so the rebuild refuses it.
    assert.equal(readTopology(spec, sighted(primary(), standby('10.0.0.11'), standby('10.0.0.11')), 'pg1').primary, 'pg1');
    // After a failover, the stopped old primary is rebuilt as a standby of the new one.
    assert.equal(readTopology(spec, sighted(stopped('shut down', 1), primary(2, 0), standby('10.0.0.11', 1)), 'pg1').primary, 'pg2');
    // Two other nodes running as primaries are still a split brain.
    const split = readTopology(spec, sighted(primary(1, 0), primary(2, 0), primary(2, 0)), 'pg3');
    assert.equal(split.primary, null);
    assert.match(split.problems.join('\n'), /pg1 \(timeline 1\) and pg2 \(timeline 2\) all run as primaries/);
  });

  test('nothing runs: the spec\'s primary, last shut down as a primary, is still the primary; not when a node went past its timeline', () => {
    assert.equal(readTopology(spec, sighted(stopped('shut down'), stopped('shut down in recovery'), 'connect ETIMEDOUT')).primary, 'pg1');
    const forked = readTopology(spec, sighted(stopped('shut down', 1), stopped('shut down', 2), stopped('shut down in recovery', 2)));
    assert.equal(forked.primary, null);
    assert.match(forked.problems.join('\n'), /pg2 is on a later timeline \(2\) than pg1 \(1\)/);
  });

  test('the spec\'s primary unreachable and no node out of recovery: no primary, said why', () => {
    const t = readTopology(spec, sighted('connect EHOSTUNREACH', standby('10.0.0.11'), standby('10.0.0.11')));
    assert.equal(t.primary, null);
    assert.deepEqual(t.problems, ['no node runs as the primary (pg1, the spec\'s, is unreachable)']);
    assert.equal(t.nodes[0].error, 'connect EHOSTUNREACH');
  });

  test('a node holding another cluster is no member', () => {
    const t = readTopology(spec, sighted(primary(), standby('10.0.0.11'), { ...standby('10.0.0.11'), systemId: '123' }));
    assert.equal(t.primary, 'pg1');
    assert.equal(t.nodes[2].seenAs, 'another cluster');
    assert.deepEqual(t.problems, [`pg3 holds another cluster (system identifier 123, the cluster's is ${SYS})`]);
  });

  test('status shows the topology and warns, without failing, when the spec names another primary', () => {
    const topology = readTopology(spec, sighted(standby('10.0.0.12', 2), primary(2, 2), standby('10.0.0.12', 2)));
    const facts = {
      stanza: 'alpha', topology,
      repository: { host: 'backup-srv', stanza: null, error: 'unreadable in this test' },
      primary: { name: 'pg2', archiver: null, replication: [], error: 'unread in this test' },
      standbys: [],
    };
    const evaluation = evaluate(facts, spec, 0);
    assert.deepEqual(evaluation.warnings, ['the spec names pg1 as the primary, but pg2 is: stanzactl acts on pg2 (the spec\'s roles only say which node a new cluster is built on)']);
    assert.ok(!evaluation.problems.some((p) => /primary/.test(p) && /spec/.test(p)), 'a warning, not a problem');
    const text = renderText(statusReport(facts, [], evaluation, 0)).join('\n');
    assert.match(text, /topology \(primary: pg2\):\n {2}NODE +FOUND +TIMELINE +STREAMS FROM\n {2}pg1 +standby \(the spec's primary\) +2 +pg2, streaming\n {2}pg2 +primary +2 +-\n {2}pg3 +standby +2 +pg2, streaming/);
    assert.match(text, /warnings:\n {2}- the spec names pg1 as the primary, but pg2 is/);
  });
});
