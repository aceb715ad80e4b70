import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { tsToMs } from '@temporalio/common/lib/time';
import { startProvision } from '../../src/client';
import { labExec } from '../../dev/lab';
import { cmd } from '../../src/shell/command';
import { SshPool } from '../../src/remote/ssh-pool';
import { ProvisionFixture } from './fixture';
import { until, WorkerProcess } from './harness';

/*
 * A step whose command hangs on a host, and whose worker is SIGKILLed: the retry must start within
 * the heartbeat timeout (5 s) + 2 s, and the hung command must be gone from its host before the
 * retry's command runs there. The hang is real: pg2-srv's `pgbackrest` blocks the first time
 * preflight asks its version, and records, when asked again, the time and whether the first one
 * still runs (`ps` in the host's own PID namespace).
 */

const LONG = { timeout: 5 * 60_000 };
const HOST = 'pg2-srv';
const HANG = 'sleep 3600.4242';
const RESUME_LIMIT_MS = 5_000 + 2_000;

const FAKE_PGBACKREST = `#!/bin/sh
if [ "$1" = version ]; then
  if mkdir /tmp/stzhung 2>/dev/null; then exec ${HANG}; fi
  if mkdir /tmp/stzretry 2>/dev/null; then
    date +%s%3N > /tmp/stzretry/at
    ps -eo args= | grep -cxF '${HANG}' > /tmp/stzretry/hung || true
  fi
fi
exec /usr/bin/pgbackrest.real "$@"
`;

async function onHost(f: ProvisionFixture, script: string, input?: string): Promise<string> {
  const r = await labExec(f.lab, HOST, ['sh', '-c', script], { input });
  if (r.code !== 0) throw new Error(`${HOST}: ${script}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('activity attempts', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const f = new ProvisionFixture('debian', 'stdh', '10.231.131.0/24');

  before(() => f.setUp());
  after(f.teardown);

  test('worker SIGKILLed while a command hangs: the retry starts within heartbeatTimeout + 2 s, after the hung command was killed on its host', LONG, async (t) => {
    await onHost(f, 'mv /usr/bin/pgbackrest /usr/bin/pgbackrest.real && cat > /usr/bin/pgbackrest && chmod 755 /usr/bin/pgbackrest', FAKE_PGBACKREST);
    const countHung = async () => Number(await onHost(f, `ps -eo args= | grep -cxF '${HANG}' || true`));
    const handle = await startProvision(f.client, f.spec);
    try {
      await until('the first preflight to hang', async () => ((await countHung()) === 1 ? true : undefined), 60_000, 50);
      // A second worker is already polling, so the resume time is Temporal's, not a worker's start-up.
      const spare = new WorkerProcess(f.workerEnv);
      await spare.start();
      await f.worker.kill('SIGKILL');
      const killedAt = Date.now();
      f.worker = spare;

      const retryAt = Number(await until('the retried preflight to ask pg2-srv again', async () => (await onHost(f, 'cat /tmp/stzretry/at 2>/dev/null || true')) || undefined, 60_000, 50));
      // The retry's start as the server recorded it (written once the attempt ended).
      const started = await until('the retried preflight to end', async () => {
        const { events } = await handle.fetchHistory();
        const e = events?.find((x) => (x.activityTaskStartedEventAttributes?.attempt ?? 0) >= 2);
        return e?.eventTime ? tsToMs(e.eventTime) : undefined;
      }, 60_000, 50);
      t.diagnostic(`kill -> retried attempt started: ${started - killedAt} ms; -> its command on ${HOST}: ${retryAt - killedAt} ms`);
      assert.equal(await onHost(f, 'cat /tmp/stzretry/hung'), '0', 'the hung command was gone when the retry ran its command');
      assert.ok(started - killedAt <= RESUME_LIMIT_MS, `the retry started ${started - killedAt} ms after the kill (limit ${RESUME_LIMIT_MS} ms)`);
      assert.equal(await countHung(), 0);
      assert.equal(await onHost(f, 'ls -A /var/lib/stanzactl/cmds | grep -c "\\.1\\." || true'), '0', 'the first attempt left no record');
    } finally {
      await handle.terminate('test over').catch(() => undefined);
    }
  });

  test('a cancelled step kills its command on the host at once', LONG, async (t) => {
    await onHost(f, 'rm -rf /tmp/stzhung /tmp/stzretry /var/lib/stanzactl/cmds/*');
    const countHung = async () => Number(await onHost(f, `ps -eo args= | grep -cxF '${HANG}' || true`));
    const handle = await startProvision(f.client, f.spec);
    try {
      await until('preflight to hang', async () => ((await countHung()) === 1 ? true : undefined), 60_000, 50);
      const t0 = Date.now();
      await handle.cancel();
      await until('the hung command to be killed', async () => ((await countHung()) === 0 ? true : undefined), 10_000, 50);
      t.diagnostic(`cancel -> command gone on ${HOST}: ${Date.now() - t0} ms`);
      await assert.rejects(handle.result());
      assert.equal(await onHost(f, 'ls -A /var/lib/stanzactl/cmds | wc -l'), '0', 'the killed command left no record');
    } finally {
      await handle.terminate('test over').catch(() => undefined);
    }
  });

  test('30 concurrent commands to one lab host, whose sshd keeps OpenSSH\'s default limits, all pass', LONG, async (t) => {
    const limits = (await labExec(f.lab, 'backup-srv', ['/usr/sbin/sshd', '-T'])).stdout.split('\n').filter((l) => /^max(sessions|startups) /.test(l));
    assert.deepEqual(limits.sort(), ['maxsessions 10', 'maxstartups 10:30:100']);
    const pool = new SshPool({ user: f.spec.ssh.user, privateKeyFile: f.spec.ssh.privateKeyFile, knownHostsFile: f.spec.ssh.knownHostsFile });
    try {
      const t0 = Date.now();
      const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => pool.run({ name: 'backup-srv', host: f.spec.repository.host }, cmd('sh', '-c', 'sleep 1; echo "$1"', 'sh', String(i)))));
      t.diagnostic(`30 concurrent 1 s commands: ${Date.now() - t0} ms`);
      assert.deepEqual(rs.map((r) => [r.code, r.stdout, r.stderr]), Array.from({ length: 30 }, (_, i) => [0, `${i}\n`, '']));
    } finally {
      await pool.close();
    }
  });
});
