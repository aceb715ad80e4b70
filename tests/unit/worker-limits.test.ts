import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeLimits, workerLimits } from '../../src/worker-limits';

describe('worker limits', () => {
  test('defaults fit OpenSSH defaults: 8 commands + 1 kill channel per connection (MaxSessions 10), activities = what the pool carries to one host', () => {
    const l = workerLimits({});
    assert.deepEqual(l, { sshChannelsPerConnection: 8, sshConnectionsPerHost: 4, maxActivities: 32, maxWorkflowTasks: 8, maxCachedWorkflows: 100 });
    assert.ok(l.sshChannelsPerConnection + 1 < 10);
    assert.match(describeLimits(l), /^32 activities, 8 workflow tasks, 100 cached workflows; SSH: 8 commands per connection \(\+1 for kills\), 4 connections per host$/);
  });

  test('each is overridable; the activity default follows the SSH settings unless set itself', () => {
    assert.equal(workerLimits({ STANZACTL_SSH_CHANNELS_PER_CONNECTION: '4', STANZACTL_SSH_CONNECTIONS_PER_HOST: '2' }).maxActivities, 8);
    assert.deepEqual(
      workerLimits({ STANZACTL_MAX_ACTIVITIES: '5', STANZACTL_MAX_WORKFLOW_TASKS: '2', STANZACTL_MAX_CACHED_WORKFLOWS: '0', STANZACTL_SSH_CHANNELS_PER_CONNECTION: '1', STANZACTL_SSH_CONNECTIONS_PER_HOST: '1' }),
      { sshChannelsPerConnection: 1, sshConnectionsPerHost: 1, maxActivities: 5, maxWorkflowTasks: 2, maxCachedWorkflows: 0 },
    );
    assert.equal(workerLimits({ STANZACTL_MAX_ACTIVITIES: '' }).maxActivities, 32, 'empty = unset');
  });

  test('a bad value names the variable and its range', () => {
    for (const [name, value] of [['STANZACTL_MAX_ACTIVITIES', '0'], ['STANZACTL_MAX_ACTIVITIES', '1.5'], ['STANZACTL_MAX_WORKFLOW_TASKS', '1'],
      ['STANZACTL_SSH_CHANNELS_PER_CONNECTION', '64'], ['STANZACTL_SSH_CONNECTIONS_PER_HOST', '-1'], ['STANZACTL_MAX_CACHED_WORKFLOWS', 'many']]) {
      assert.throws(() => workerLimits({ [name]: value }), new RegExp(`^Error: ${name} must be a whole number from \\d+ to \\d+, not "${value.replace('.', '\\.')}"$`), `${name}=${value}`);
    }
  });
});
