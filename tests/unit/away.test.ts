import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_HOST_AWAY_SECONDS, hostAwayBudgetMs, whileAway } from '../../src/remote/away';
import { HostAwayError, RemoteCommandError, RemoteTimeoutError, SshConnectError } from '../../src/remote/errors';
import { cmd } from '../../src/shell/command';

const host = { name: 'repo', host: '10.0.0.5' };
const lost = () => new SshConnectError(host, 'connection lost while running x', true);

describe('the host-away budget', () => {
  test('STANZACTL_HOST_AWAY_SECONDS: whole seconds, default when unset, a clear error otherwise', () => {
    assert.equal(hostAwayBudgetMs({}), DEFAULT_HOST_AWAY_SECONDS * 1000);
    assert.equal(hostAwayBudgetMs({ STANZACTL_HOST_AWAY_SECONDS: '' }), DEFAULT_HOST_AWAY_SECONDS * 1000);
    assert.equal(hostAwayBudgetMs({ STANZACTL_HOST_AWAY_SECONDS: '45' }), 45_000);
    for (const bad of ['0', '-5', '1.5', '10m', ' 10']) {
      assert.throws(() => hostAwayBudgetMs({ STANZACTL_HOST_AWAY_SECONDS: bad }), /STANZACTL_HOST_AWAY_SECONDS must be a whole number of seconds/, bad);
    }
  });

  test('tries again while the host is unreachable, and returns once it answers', async () => {
    const seen: number[] = [];
    let tries = 0;
    const r = await whileAway(host, async () => {
      if (++tries < 3) throw tries === 1 ? lost() : new RemoteTimeoutError(host, 30_000, 'running x');
      return 'back';
    }, { budgetMs: 5000, retryMs: 10, what: 'while x ran there', onAway: (ms) => void seen.push(ms) });
    assert.equal(r, 'back');
    assert.equal(tries, 3);
    assert.equal(seen.length, 2);
  });

  test('past the budget: HostAwayError naming the host, what ran and the last error; never retried', async () => {
    const e = await whileAway(host, async () => { throw lost(); }, { budgetMs: 50, retryMs: 10, what: 'while run k ran there' }).catch((x: unknown) => x);
    assert.ok(e instanceof HostAwayError);
    assert.equal(e.retryable, false);
    assert.match(e.message, /^repo \(10\.0\.0\.5\): unreachable for \d+ s while run k ran there, longer than the 0 s a host may be away \(STANZACTL_HOST_AWAY_SECONDS\); last error: repo \(10\.0\.0\.5\): connection lost/);
  });

  test('other failures pass at once: a refused login, a failed command', async () => {
    for (const err of [new SshConnectError(host, 'authentication as root refused', false), new RemoteCommandError(host, cmd('false'), { code: 1, stdout: '', stderr: '' })]) {
      let tries = 0;
      await assert.rejects(whileAway(host, async () => { tries++; throw err; }, { budgetMs: 5000, retryMs: 10, what: 'x' }), (x: unknown) => x === err);
      assert.equal(tries, 1);
    }
  });
});
