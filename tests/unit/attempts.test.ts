import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { attemptKey, commandTimeoutMs } from '../../src/host/attempt-remote';
import { CMDS, killLine, markedPgid, unmarked, wrapLine } from '../../src/remote/command-record';

const info = { currentAttemptScheduledTimestampMs: 1_000_000, startToCloseTimeoutMs: 180_000, scheduledTimestampMs: 900_000, scheduleToCloseTimeoutMs: 0 };

describe('command timeouts within the attempt', () => {
  test('a command never outlives its attempt, minus the time to kill it', () => {
    assert.equal(commandTimeoutMs(info, 1_000_000), 175_000);
    assert.equal(commandTimeoutMs(info, 1_000_000, 300_000), 175_000, 'a longer wish is cut to the attempt');
    assert.equal(commandTimeoutMs(info, 1_000_000, 30_000), 30_000);
    assert.equal(commandTimeoutMs(info, 1_170_000, 30_000), 5_000);
    assert.equal(commandTimeoutMs(info, 1_175_000), undefined, 'no time left: no command');
    assert.equal(commandTimeoutMs({ ...info, scheduleToCloseTimeoutMs: 200_000 }, 1_000_000), 95_000, 'nor its activity');
  });

  test('the attempt key is the same for every attempt of one activity, and differs otherwise', () => {
    const a = { workflowExecution: { workflowId: 'provision-demo', runId: 'r1' }, activityType: 'ensureRepoHost', activityId: '3' };
    assert.match(attemptKey(a), /^[0-9a-f]{32}$/);
    assert.equal(attemptKey(a), attemptKey({ ...a }));
    assert.notEqual(attemptKey(a), attemptKey({ ...a, activityId: '4' }));
    assert.notEqual(attemptKey(a), attemptKey({ ...a, workflowExecution: { workflowId: 'provision-demo', runId: 'r2' } }));
  });

  test('an activity started standalone (no workflow run, SDK >= 1.18) is refused, never keyed', () => {
    assert.throws(() => attemptKey({ workflowExecution: undefined, activityType: 'runBackup', activityId: '1' }),
      (e: ApplicationFailure) => e instanceof ApplicationFailure && e.nonRetryable === true && e.type === 'NotInWorkflow' && /runBackup runs only as a step/.test(e.message));
  });
});

// The wrapped line runs in the machine's real dash, as a login shell of its own session would
// (setsid, as sshd does), with records in the real directory under keys of this test.
const skip = process.getuid?.() !== 0 ? 'needs root (writes under /var/lib/stanzactl/cmds)' : false;

describe('command records', { skip }, () => {
  const key = `unit${randomBytes(6).toString('hex')}`;
  const records = () => (existsSync(CMDS) ? readdirSync(CMDS).filter((f) => f.startsWith(`${key}.`)) : []);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  const spawned: number[] = [];
  after(() => {
    for (const pid of spawned) if (alive(pid)) process.kill(-pid, 'SIGKILL');
    for (const f of records()) rmSync(`${CMDS}/${f}`);
  });

  function shell(line: string) {
    const child = spawn('setsid', ['-w', 'sh', '-c', line], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    const done = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { done, stderr: () => stderr };
  }

  test('a finished command leaves no record, keeps its exit status, and marks its pid', async () => {
    const s = shell(wrapLine(() => "cd / && sh -c 'exit 7'", 'root', { key, attempt: 1 }));
    assert.equal(await s.done, 7);
    assert.ok(markedPgid(s.stderr()) !== undefined, s.stderr());
    assert.equal(unmarked(s.stderr()), '');
    assert.deepEqual(records(), []);
  });

  test("the next attempt kills the process group an earlier attempt left, and only that", async () => {
    const hung = shell(wrapLine(() => "cd / && sh -c 'sleep 600 & sleep 600'", 'root', { key, attempt: 1 }));
    await until(() => records().length === 1);
    const [file] = records();
    const [pgid] = readFileSync(`${CMDS}/${file}`, 'utf8').split(' ').map(Number);
    spawned.push(pgid);
    assert.equal(file, `${key}.1.${pgid}`);
    // A stale record whose pid now belongs to another process (other start time) must spare it.
    const bystander = spawn('setsid', ['-w', 'sleep', '600'], { stdio: 'ignore' });
    spawned.push(bystander.pid!);
    await until(() => alive(bystander.pid!));
    writeFileSync(`${CMDS}/${key}.1.${bystander.pid}`, `${bystander.pid} 1\n`);
    const members = () => spawnSync('ps', ['-o', 'stat=', '-g', String(pgid)], { encoding: 'utf8' }).stdout.split('\n').filter((st) => st !== '' && !st.startsWith('Z'));
    assert.ok(members().length >= 3, 'the shell and its two sleeps');

    const retry = shell(wrapLine(() => 'cd / && echo again', 'root', { key, attempt: 2 }));
    assert.equal(await retry.done, 0);
    await hung.done;
    assert.deepEqual(members(), [], 'the earlier attempt\'s group is gone');
    assert.ok(alive(bystander.pid!), 'a process that merely reuses a recorded pid is spared');
    assert.deepEqual(records(), [], 'records of earlier attempts are removed, the retry\'s own too');
    bystander.kill('SIGKILL');
  });

  test('the kill line kills the group and removes its record', async () => {
    const hung = shell(wrapLine(() => 'cd / && sleep 600', 'root', { key, attempt: 3 }));
    await until(() => records().length === 1);
    const pgid = Number(records()[0].split('.')[2]);
    spawned.push(pgid);
    const [bin, ...args] = killLine(pgid, { key, attempt: 3 });
    assert.equal(spawnSync(bin, args).status, 0);
    await hung.done;
    assert.deepEqual(records(), []);
  });

  test('bad tags are refused before anything is rendered', () => {
    assert.throws(() => wrapLine(() => 'true', 'root', { key: '../x', attempt: 1 }), /invalid attempt tag/);
    assert.throws(() => wrapLine(() => 'true', 'root', { key, attempt: 0 }), /invalid attempt tag/);
  });
});

async function until(f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}
