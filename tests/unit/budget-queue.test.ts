import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SlotRequest } from '../../src/budget/protocol';
import { EMPTY_BUDGET, enqueue, forgetRuns, grant, idle, release, runsOf } from '../../src/budget/queue';
import { defaultBudget, parseSshdLimits } from '../../src/facts/ssh-limits';

const ask = (ticket: string, extra: Partial<SlotRequest> = {}): SlotRequest => ({ ticket, workflowId: `wf-${ticket}`, runId: 'r1', what: `backup ${ticket}`, capacity: 2, at: 0, ...extra });
const tickets = (rs: readonly { ticket: string }[]) => rs.map((r) => r.ticket);

test('first come first served within the capacity; a freed slot goes to the head of the queue', () => {
  let s = ['a', 'b', 'c'].reduce((acc, t) => enqueue(acc, ask(t)), EMPTY_BUDGET);
  const first = grant(s, 10);
  assert.deepEqual(tickets(first.granted), ['a', 'b']);
  s = first.state;
  assert.deepEqual(tickets(s.queue), ['c']);
  assert.deepEqual(s.holders.map((h) => h.grantedAt), [10, 10]);
  assert.deepEqual(grant(s, 11).granted, [], 'no slot free');
  s = release(s, 'a');
  const next = grant(s, 12);
  assert.deepEqual(tickets(next.granted), ['c']);
  assert.deepEqual(tickets(next.state.holders), ['b', 'c']);
});

test('a repeated ask (a retried signalWithStart) is one request, queued or held', () => {
  let s = enqueue(EMPTY_BUDGET, ask('a'));
  s = enqueue(s, ask('a'));
  assert.deepEqual(tickets(s.queue), ['a']);
  s = grant(s, 1).state;
  s = enqueue(s, ask('a'));
  assert.deepEqual(tickets(s.holders), ['a']);
  assert.deepEqual(s.queue, []);
});

test('urgent asks go ahead of the waiting ones, behind earlier urgent ones; the latest ask sets the capacity', () => {
  let s = enqueue(enqueue(EMPTY_BUDGET, ask('a', { capacity: 1 })), ask('b', { capacity: 1 }));
  s = enqueue(s, ask('u1', { urgent: true, capacity: 1 }));
  s = enqueue(s, ask('u2', { urgent: true, capacity: 1 }));
  assert.deepEqual(tickets(s.queue), ['u1', 'u2', 'a', 'b']);
  assert.equal(s.capacity, 1);
  assert.equal(enqueue(s, ask('c', { capacity: 3.7 })).capacity, 3);
  assert.equal(enqueue(s, ask('d', { capacity: 0 })).capacity, 1, 'never below one slot');
});

test('a release withdraws a queued ask too; the runs that ended lose their slots and asks', () => {
  let s = grant(['a', 'b', 'c'].reduce((acc, t) => enqueue(acc, ask(t)), EMPTY_BUDGET), 0).state;
  assert.deepEqual(tickets(release(s, 'c').queue), []);
  assert.deepEqual(runsOf(s).map((r) => r.workflowId), ['wf-a', 'wf-b', 'wf-c']);
  s = forgetRuns(s, [{ workflowId: 'wf-a', runId: 'r1' }, { workflowId: 'wf-c', runId: 'other-run' }]);
  assert.deepEqual(tickets(s.holders), ['b']);
  assert.deepEqual(tickets(s.queue), ['c'], 'another run of the same workflow id is not the one that ended');
  assert.equal(idle(release(release(s, 'b'), 'c')), true);
});

test('sshd -T: MaxStartups read; the default budget keeps K runs starting at once within its first number', () => {
  const limits = parseSshdLimits('port 22\nmaxsessions 10\nmaxstartups 10:30:100\n');
  assert.deepEqual(limits, { startupsBegin: 10 });
  assert.deepEqual(defaultBudget(limits, 4), { capacity: 2, why: 'MaxStartups 10 / (process-max 4 + 1)' });
  assert.equal(defaultBudget(limits, 1).capacity, 5);
  assert.equal(defaultBudget(parseSshdLimits('maxstartups 3\n'), 4).capacity, 1, 'at least one');
  assert.throws(() => parseSshdLimits('port 22\n'), /no usable maxstartups \(absent\)/);
});
