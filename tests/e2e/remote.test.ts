import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe as suite, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { asUser, cmd, Secret, withStdin } from '../../src/shell/command';
import { clearDetached, pollDetached, startOrAttach, waitDetached, type DetachedStatus } from '../../src/remote/detached';
import { HostKeyError, RemoteCommandError, RemoteTimeoutError, SshConnectError } from '../../src/remote/errors';
import { check, SshPool, type SshPoolOptions } from '../../src/remote/ssh-pool';
import type { HostAddress } from '../../src/remote/types';
import { until } from './harness';

/*
 * A private sshd on 127.0.0.1 (own host key, own config, own authorized key), started and killed
 * by pid here. Detached runs use the real run directory of this machine, under unique keys.
 */

const skip = process.getuid?.() !== 0 || !existsSync('/usr/sbin/sshd') ? 'needs root and /usr/sbin/sshd' : false;

const RUNS = '/var/lib/stanzactl/runs';
const host: HostAddress = { name: 'loop', host: '127.0.0.1' };

function keygen(file: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stanzactl-test', '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** pid -> argv, for every process on this machine. */
function processes(): Map<number, { ppid: number; argv: string[] }> {
  const m = new Map<number, { ppid: number; argv: string[] }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').slice(0, -1);
      m.set(Number(d), { ppid, argv });
    } catch {
      // gone meanwhile
    }
  }
  return m;
}

function descendants(pid: number): number[] {
  const all = processes();
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, { ppid }] of all) {
      if (ppid === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

function countArgv(argv: string[]): number {
  return [...processes().values()].filter((p) => p.argv.join('\0') === argv.join('\0')).length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

suite('remote layer against a private sshd', { skip }, () => {
  let dir: string;
  let port: number;
  let sshd: ChildProcess | undefined;
  let hostPub: string;
  let otherPub: string;
  const log: string[] = [];
  const pools: SshPool[] = [];
  const runKeys: string[] = [];
  const files = { key: '', strangerKey: '', known: '', knownMissing: '', knownOther: '', knownRevoked: '', cfg: '' };

  const accepted = () => log.filter((l) => l.includes('Accepted publickey for root')).length;

  function pool(o: Partial<SshPoolOptions> = {}): SshPool {
    const p = new SshPool({ user: 'root', privateKeyFile: files.key, knownHostsFile: files.known, port, connectTimeoutMs: 5000, ...o });
    pools.push(p);
    return p;
  }

  function runKey(name: string): string {
    const k = `stztest-${randomBytes(4).toString('hex')}-${name}`;
    runKeys.push(k);
    return k;
  }

  async function startSshd(): Promise<void> {
    const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', files.cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    sshd = child;
    let buf = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      log.push(...lines);
    });
    await until('sshd to listen', () => log.some((l) => l.includes(`Server listening on 127.0.0.1 port ${port}`)) || child.exitCode !== null, 5000, 50);
    assert.equal(child.exitCode, null, `sshd exited: ${log.join('\n')}`);
    log.length = 0;
  }

  /** Kills sshd and every connection process it forked: the pool's connections drop like a host going down. */
  async function stopSshd(): Promise<void> {
    const child = sshd;
    if (child?.pid === undefined || child.exitCode !== null) return;
    for (const pid of [child.pid, ...descendants(child.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await until('sshd to exit', () => child.exitCode !== null || child.signalCode !== null, 5000, 50);
    sshd = undefined;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stanzactl-sshd-'));
    port = await freePort();
    hostPub = keygen(join(dir, 'host_ed25519'));
    otherPub = keygen(join(dir, 'other_ed25519'));
    files.key = join(dir, 'client_ed25519');
    writeFileSync(join(dir, 'authorized_keys'), `${keygen(files.key)}\n`);
    files.strangerKey = join(dir, 'stranger_ed25519');
    keygen(files.strangerKey);
    const hp = `[${host.name}]:${port},[${host.host}]:${port}`;
    files.known = join(dir, 'known_hosts');
    writeFileSync(files.known, `# pinned\n${hp} ${hostPub}\n`);
    files.knownMissing = join(dir, 'known_hosts_missing');
    writeFileSync(files.knownMissing, `[elsewhere]:${port} ${hostPub}\n${host.name} ${hostPub}\n`);
    files.knownOther = join(dir, 'known_hosts_other');
    writeFileSync(files.knownOther, `${hp} ${otherPub}\n`);
    files.knownRevoked = join(dir, 'known_hosts_revoked');
    writeFileSync(files.knownRevoked, `${hp} ${hostPub}\n@revoked * ${hostPub}\n`);
    files.cfg = join(dir, 'sshd_config');
    writeFileSync(
      files.cfg,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_ed25519')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'StrictModes no',
        'UsePAM yes',
        // MaxSessions and MaxStartups stay at OpenSSH's defaults (10, 10:30:100), as on real hosts.
        'LogLevel VERBOSE',
      ].join('\n') + '\n',
    );
    // The privilege separation directory the openssh-server package normally creates at boot.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    await startSshd();
  });

  // Each test starts with no connection open, so counts of connections and processes are its own.
  const closePools = () => Promise.all(pools.splice(0).map((p) => p.close()));

  after(async () => {
    await closePools();
    await stopSshd();
    for (const k of runKeys) rmSync(join(RUNS, k), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  suite('SshPool', () => {
    afterEach(closePools);

    test('runs commands: output, stdin, non-zero exit as a code, another user, signals', async () => {
      const p = pool();
      assert.deepEqual(await p.run(host, cmd('echo', 'hello world')), { code: 0, stdout: 'hello world\n', stderr: '' });
      assert.deepEqual(await p.run(host, cmd('sh', '-c', 'echo out; echo err >&2; exit 7')), { code: 7, stdout: 'out\n', stderr: 'err\n' });
      const secret = new Secret("s3cret 'x'\nline two ż");
      assert.equal((await p.run(host, withStdin(cmd('cat'), secret))).stdout, secret.value);
      assert.equal((await p.run(host, cmd('cat'))).stdout, '', 'no stdin = EOF at once');
      assert.equal((await p.run(host, asUser('nobody', cmd('id', '-un')))).stdout, 'nobody\n');
      // Big output: multi-byte characters cut across chunks must come back whole.
      assert.equal((await p.run(host, cmd('sh', '-c', 'yes żółć | head -n 50000'))).stdout, 'żółć\n'.repeat(50000));
      assert.equal((await p.run(host, cmd('sh', '-c', 'kill -KILL $$'))).code, 128 + 9);
      assert.equal((await p.run(host, cmd('sh', '-c', 'kill -TERM $$'))).code, 128 + 15);
    });

    test('check() throws RemoteCommandError with secrets masked, even in the output', async () => {
      const p = pool();
      const c = cmd('sh', '-c', 'echo "bad password $1" >&2; exit 4', 'sh', new Secret('pw-XYZ'));
      const r = await p.run(host, c);
      assert.equal(r.code, 4);
      assert.throws(
        () => check(host, c, r),
        (e: unknown) => {
          assert.ok(e instanceof RemoteCommandError);
          assert.equal(e.name, 'RemoteCommandError');
          assert.equal(e.code, 4);
          assert.equal(e.retryable, true);
          assert.match(e.message, /^loop \(127\.0\.0\.1\): exit code 4 from cd \/ && sh -c .* sh \*\*\*\nbad password \*\*\*$/);
          assert.ok(!e.message.includes('pw-XYZ'));
          return true;
        },
      );
      assert.equal(check(host, c, { ...r, code: 0 }).code, 0);
    });

    test('one connection per host: 20 sequential commands, and concurrent first commands', async (t) => {
      const before = accepted();
      const p = pool();
      let t0 = performance.now();
      await p.run(host, cmd('true'));
      const firstMs = performance.now() - t0;
      const rtts: number[] = [];
      t0 = performance.now();
      for (let i = 0; i < 20; i++) {
        const s = performance.now();
        assert.equal((await p.run(host, cmd('echo', String(i)))).stdout, `${i}\n`);
        rtts.push(performance.now() - s);
      }
      const twentyMs = performance.now() - t0;
      await until('sshd log', () => accepted() > before, 5000, 50);
      assert.equal(accepted() - before, 1, 'one authentication for 21 commands');
      const established = execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' }).trim().split('\n');
      assert.equal(established.length, 1, `one TCP connection: ${established.join(' | ')}`);
      t.diagnostic(`first connect + command: ${firstMs.toFixed(1)} ms`);
      t.diagnostic(`reused round trip: median ${median(rtts).toFixed(2)} ms over 20 (min ${Math.min(...rtts).toFixed(2)}, max ${Math.max(...rtts).toFixed(2)})`);
      t.diagnostic(`20 sequential commands: ${twentyMs.toFixed(1)} ms`);

      const before2 = accepted();
      const q = pool();
      const outs = await Promise.all(Array.from({ length: 8 }, (_, i) => q.run(host, cmd('echo', String(i)))));
      assert.deepEqual(
        outs.map((o) => o.stdout),
        Array.from({ length: 8 }, (_, i) => `${i}\n`),
      );
      await sleep(200);
      assert.equal(accepted() - before2, 1, 'eight concurrent first commands share one connection');
    });

    test('30 concurrent commands to a host with sshd defaults all pass: channels per connection bounded, more connections opened', async (t) => {
      const before = accepted();
      const p = pool();
      const t0 = performance.now();
      const outs = await Promise.all(
        Array.from({ length: 30 }, (_, i) => p.run(host, cmd('sh', '-c', 'sleep 1; echo "$1"', 'sh', String(i)))),
      );
      // Not stderr: the account's shell start-up files may print there (pyenv's rehash on this machine).
      assert.deepEqual(
        outs.map((o) => [o.code, o.stdout]),
        Array.from({ length: 30 }, (_, i) => [0, `${i}\n`]),
      );
      t.diagnostic(`30 concurrent 1 s commands: ${(performance.now() - t0).toFixed(0)} ms`);
      await until('sshd log', () => accepted() > before, 5000, 50);
      await sleep(200);
      const connections = accepted() - before;
      t.diagnostic(`connections opened: ${connections}`);
      assert.ok(connections >= 2 && connections <= 4, `${connections} connections (8 channels each, at most 4)`);

      // A bound of 2 channels on 1 connection: the rest wait their turn and still pass.
      const narrow = pool({ maxChannelsPerConnection: 2, maxConnectionsPerHost: 1 });
      const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => narrow.run(host, cmd('echo', String(i)))));
      assert.deepEqual(rs.map((r) => r.stdout), ['0\n', '1\n', '2\n', '3\n', '4\n', '5\n']);
    });

    test('a host key missing from known_hosts fails closed with HostKeyError, before authentication', async () => {
      log.length = 0;
      const p = pool({ knownHostsFile: files.knownMissing });
      const fp = execFileSync('ssh-keygen', ['-lf', join(dir, 'host_ed25519.pub')], { encoding: 'utf8' }).split(' ')[1];
      for (let attempt = 0; attempt < 2; attempt++) {
        await assert.rejects(p.run(host, cmd('touch', join(dir, 'must-not-exist'))), (e: unknown) => {
          assert.ok(e instanceof HostKeyError);
          assert.equal(e.name, 'HostKeyError');
          assert.equal(e.retryable, false);
          assert.equal(e.verdict, 'unknown');
          for (const part of ['loop', `127.0.0.1:${port}`, files.knownMissing, fp]) assert.ok(e.message.includes(part), `${e.message} names ${part}`);
          return true;
        });
      }
      await until('sshd to log the dropped connections', () => log.filter((l) => l.includes('[preauth]')).length >= 2 || undefined, 5000, 50);
      assert.deepEqual(
        log.filter((l) => /Accepted|publickey|Failed|Postponed|userauth/i.test(l)),
        [],
        'the client never tried to authenticate',
      );
      assert.ok(!existsSync(join(dir, 'must-not-exist')));
    });

    test('a different or revoked host key fails with HostKeyError', async () => {
      await assert.rejects(pool({ knownHostsFile: files.knownOther }).run(host, cmd('true')), (e: unknown) => {
        assert.ok(e instanceof HostKeyError && e.verdict === 'changed', String(e));
        assert.match(e.message, /DIFFERENT key/);
        return true;
      });
      await assert.rejects(pool({ knownHostsFile: files.knownRevoked }).run(host, cmd('true')), (e: unknown) => e instanceof HostKeyError && e.verdict === 'revoked');
    });

    test('refused authentication or a bad key file is a non-retryable SshConnectError; a closed port a retryable one', async () => {
      await assert.rejects(pool({ privateKeyFile: files.strangerKey }).run(host, cmd('true')), (e: unknown) => {
        assert.ok(e instanceof SshConnectError, String(e));
        assert.equal(e.retryable, false);
        assert.match(e.message, /authentication as root refused/);
        return true;
      });
      await assert.rejects(pool({ privateKeyFile: files.known }).run(host, cmd('true')), (e: unknown) => {
        assert.ok(e instanceof SshConnectError && !e.retryable, `a file that is no key: ${String(e)}`);
        return true;
      });
      await assert.rejects(pool({ port: await freePort() }).run(host, cmd('true')), (e: unknown) => {
        assert.ok(e instanceof SshConnectError, String(e));
        assert.equal(e.retryable, true);
        assert.match(e.message, /ECONNREFUSED/);
        return true;
      });
    });

    test('sshd killed mid-pool: the run fails transiently, and the next reconnects once sshd is back', async () => {
      const p = pool();
      assert.equal((await p.run(host, cmd('echo', 'a'))).stdout, 'a\n');
      const running = p.run(host, cmd('sleep', '20.0011')).then(
        () => undefined,
        (e: unknown) => e,
      );
      await until('the sleep to start', () => countArgv(['sleep', '20.0011']) === 1 || undefined, 5000, 50);
      try {
        await stopSshd();
        const lost = await running;
        assert.ok(lost instanceof SshConnectError && lost.retryable && /connection lost/.test(lost.message), String(lost));
        await assert.rejects(p.run(host, cmd('true')), (e: unknown) => e instanceof SshConnectError && e.retryable);
      } finally {
        await startSshd();
      }
      assert.equal((await p.run(host, cmd('echo', 'b'))).stdout, 'b\n');
      assert.equal(accepted(), 1, 'reconnected once');
    });

    test('a host that stops answering is detected by keepalive and the pool reconnects', async () => {
      const p = pool({ keepaliveIntervalMs: 200 });
      await p.run(host, cmd('true'));
      const frozen = descendants(sshd!.pid!);
      assert.ok(frozen.length > 0);
      for (const pid of frozen) process.kill(pid, 'SIGSTOP');
      try {
        const t0 = performance.now();
        await assert.rejects(p.run(host, cmd('true')), (e: unknown) => e instanceof SshConnectError && e.retryable);
        assert.ok(performance.now() - t0 < 3000, 'detected within a few keepalive intervals');
      } finally {
        for (const pid of frozen) {
          for (const sig of ['SIGKILL', 'SIGCONT'] as const) {
            try {
              process.kill(pid, sig);
            } catch {
              // already reaped
            }
          }
        }
      }
      assert.equal((await p.run(host, cmd('echo', 'back'))).stdout, 'back\n');
    });

    test('timeoutMs kills the remote command (also as another user) and keeps the connection', async () => {
      const p = pool();
      await p.run(host, cmd('true'));
      const before = accepted();
      for (const c of [cmd('sleep', '30.0042'), asUser('nobody', cmd('sleep', '30.0043'))]) {
        const t0 = performance.now();
        await assert.rejects(p.run(host, c, { timeoutMs: 800 }), (e: unknown) => {
          assert.ok(e instanceof RemoteTimeoutError, String(e));
          assert.equal(e.retryable, true);
          assert.match(e.message, /timed out after 800 ms running cd \/ && (runuser -u nobody -- )?sleep 30\.004/);
          return true;
        });
        assert.ok(performance.now() - t0 < 2000);
        await until(`${c.argv.join(' ')} to be killed`, () => countArgv(c.argv as string[]) === 0 || undefined, 3000, 50);
      }
      assert.deepEqual(await p.run(host, cmd('sh', '-c', 'echo out; echo err >&2'), { timeoutMs: 5000 }), { code: 0, stdout: 'out\n', stderr: 'err\n' });
      assert.equal((await p.run(host, cmd('echo', 'still here'))).stdout, 'still here\n');
      assert.equal(accepted(), before, 'same connection');
    });

    test('an aborted signal kills the remote command and rejects with its reason', async () => {
      const p = pool();
      const ac = new AbortController();
      const c = asUser('nobody', cmd('sleep', '30.0044'));
      const running = p.run(host, c, { signal: ac.signal });
      await until('the sleep to start', () => countArgv(c.argv as string[]) === 1 || undefined, 5000, 50);
      const reason = new Error('attempt cancelled');
      ac.abort(reason);
      await assert.rejects(running, (e: unknown) => e === reason);
      await until('the sleep to be killed', () => countArgv(c.argv as string[]) === 0 || undefined, 3000, 50);
      await assert.rejects(p.run(host, cmd('true'), { signal: ac.signal }), (e: unknown) => e === reason, 'an aborted signal starts nothing');
    });
  });

  suite('detached runs', () => {
    afterEach(closePools);

    test('start as another user, attach instead of starting twice, survive the pool, report exit 0', async () => {
      const key = runKey('ok');
      const c = asUser('nobody', cmd('sh', '-c', 'sleep 3.0031; id -un; echo done'));
      const p1 = pool();
      const starts = await Promise.all([startOrAttach(p1, host, key, c), startOrAttach(p1, host, key, c)]);
      assert.deepEqual(starts.map((s) => s.attached).sort(), [false, true], 'concurrent starts: one starts, one attaches');
      assert.deepEqual(await startOrAttach(p1, host, key, c), { attached: true });
      assert.equal(countArgv(['sleep', '3.0031']), 1, 'one process');
      const s = await pollDetached(p1, host, key);
      assert.equal(s.state, 'running');
      assert.match(s.startedAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(readFileSync(join(RUNS, key, 'command'), 'utf8'), "cd / && runuser -u nobody -- sh -c 'sleep 3.0031; id -un; echo done'\n");
      await p1.close(); // the worker dies

      const seen: DetachedStatus[] = [];
      const done = await waitDetached(pool(), host, key, { intervalMs: 250, onProgress: (x) => void seen.push(x) });
      assert.equal(done.state, 'exited');
      assert.equal(done.code, 0);
      assert.equal(done.outputTail, 'nobody\ndone\n');
      assert.ok(seen.some((x) => x.state === 'running'));
      assert.equal(seen.at(-1)?.state, 'exited');
    });

    test('a failing run reports its exit code and output', async () => {
      const key = runKey('fail');
      const p = pool();
      await startOrAttach(p, host, key, cmd('sh', '-c', 'seq 1 30; echo failing >&2; exit 3'));
      const done = await waitDetached(p, host, key, { intervalMs: 100, timeoutMs: 10_000 });
      assert.deepEqual({ state: done.state, code: done.code }, { state: 'exited', code: 3 });
      assert.equal(done.outputTail.split('\n').length, 21, '20 lines and the final newline');
      assert.ok(done.outputTail.endsWith('30\nfailing\n'));
      assert.equal((await pollDetached(p, host, key, 2)).outputTail, '30\nfailing\n');
    });

    test('a killed run is lost; TERM to the run ends the command but its status is kept', async () => {
      const p = pool();
      const lost = runKey('lost');
      await startOrAttach(p, host, lost, cmd('sleep', '30.0077'));
      const [pid] = readFileSync(join(RUNS, lost, 'pid'), 'utf8').split(' ').map(Number);
      await assert.rejects(clearDetached(p, host, lost), (e: unknown) => e instanceof RemoteCommandError && e.code === 3);
      process.kill(-pid, 'SIGKILL'); // the run's whole session: as a reboot or the OOM killer would
      await until('the run to die', () => countArgv(['sleep', '30.0077']) === 0 || undefined, 5000, 50);
      assert.equal((await pollDetached(p, host, lost)).state, 'lost');
      await clearDetached(p, host, lost);
      assert.ok(!existsSync(join(RUNS, lost)));
      assert.equal((await pollDetached(p, host, lost)).state, 'absent', 'a cleared (or never started) run reads as absent');

      const termed = runKey('term');
      await startOrAttach(p, host, termed, cmd('sleep', '30.0078'));
      const [tpid] = readFileSync(join(RUNS, termed, 'pid'), 'utf8').split(' ').map(Number);
      process.kill(-tpid, 'SIGTERM');
      const done = await waitDetached(p, host, termed, { intervalMs: 100, timeoutMs: 5000 });
      assert.deepEqual({ state: done.state, code: done.code }, { state: 'exited', code: 128 + 15 });
    });

    test('secrets stay out of the run files and the runner argv; stdin and bad keys are refused', async () => {
      const p = pool();
      const key = runKey('secret');
      await startOrAttach(p, host, key, cmd('sh', '-c', 'sleep 1.0091; echo "${#1}"', 'sh', new Secret('topsecret-42')));
      const [pid] = readFileSync(join(RUNS, key, 'pid'), 'utf8').split(' ').map(Number);
      const runner = processes().get(pid);
      assert.ok(runner !== undefined && runner.argv.includes('stanzactl-run'), JSON.stringify(runner));
      assert.ok(!runner.argv.join(' ').includes('topsecret'));
      assert.ok(!readFileSync(`/proc/${pid}/environ`, 'utf8').includes('topsecret'), 'nor in its environment');
      assert.equal(readFileSync(join(RUNS, key, 'command'), 'utf8'), "cd / && sh -c 'sleep 1.0091; echo \"${#1}\"' sh ***\n");
      const done = await waitDetached(p, host, key, { intervalMs: 100, timeoutMs: 10_000 });
      assert.equal(done.outputTail, '12\n', 'the command got the real value');

      await assert.rejects(startOrAttach(p, host, runKey('stdin'), withStdin(cmd('cat'), 'x')), /takes no stdin/);
      for (const bad of ['..', '.', 'a/b', '', 'x'.repeat(201), 'a b', "a'b"]) {
        await assert.rejects(pollDetached(p, host, bad), /invalid run key/, bad);
      }
    });

    test('waitDetached stops on abort and on its timeout, leaving the run going', async () => {
      const p = pool();
      const key = runKey('abort');
      // Long enough to outlast the abort, which kills the poll waiting on the host (a round trip).
      await startOrAttach(p, host, key, cmd('sleep', '6.0051'));
      const ac = new AbortController();
      const reason = new Error('cancelled by the workflow');
      setTimeout(() => ac.abort(reason), 300);
      await assert.rejects(waitDetached(p, host, key, { intervalMs: 5000, signal: ac.signal }), (e: unknown) => e === reason);
      await assert.rejects(waitDetached(p, host, key, { intervalMs: 100, timeoutMs: 300 }), RemoteTimeoutError);
      assert.equal((await pollDetached(p, host, key)).state, 'running');
      assert.equal((await waitDetached(p, host, key, { intervalMs: 200 })).code, 0);
    });
  });
});
