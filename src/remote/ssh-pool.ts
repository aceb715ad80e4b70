import type { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { constants as os } from 'node:os';
import { NodeSSH, SSHError } from 'node-ssh';
import { cmd, describe, stdinValue, toShellLine, type Become, type Command } from './command';
import { HostKeyError, RemoteCommandError, RemoteTimeoutError, SshConnectError } from './errors';
import { blobKeyType, keysFor, parseKnownHosts, verifyHostKey } from './known-hosts';
import type { HostAddress, Remote, RunOptions, RunResult } from './types';

// The parts of ssh2 (node-ssh's transport) used here; the package ships no type declarations.
interface Channel extends EventEmitter {
  readonly stderr: EventEmitter;
  end(data?: string): void;
  close(): void;
}
interface Client extends EventEmitter {
  exec(command: string, options: object, cb: (err: Error | undefined, channel: Channel) => void): void;
  end(): void;
}
type Ssh2Error = Error & { level?: string };
type Exit = { code: number | null; signal: string | null };

interface Connection {
  readonly ssh: NodeSSH;
  readonly client: Client;
}

export interface SshPoolOptions {
  readonly user: string;
  readonly privateKeyFile: string;
  readonly knownHostsFile: string;
  readonly port?: number;
  /** TCP connect + handshake + authentication. */
  readonly connectTimeoutMs?: number;
  /** A host that answers no keepalive for 3 intervals is declared dead and its connection dropped. */
  readonly keepaliveIntervalMs?: number;
  readonly become?: Become;
}

/** Host key algorithms ssh2 offers, most preferred first (ssh-rsa with SHA-1 left out, as OpenSSH does). */
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'];

/**
 * Ask first for the key types known_hosts pins, as OpenSSH does: otherwise a host with several
 * keys presents its preferred one, which may not be the pinned one, and fails verification.
 */
function hostKeyAlgorithms(pinned: Buffer[]): string[] {
  const types = new Set(pinned.map(blobKeyType));
  const known = HOST_KEY_ALGORITHMS.filter((a) => types.has(a.startsWith('rsa-sha2-') ? 'ssh-rsa' : a));
  return [...known, ...HOST_KEY_ALGORITHMS.filter((a) => !known.includes(a))];
}

/**
 * With a timeout, the remote shell first reports its pid on stderr (that line is removed from the
 * result). sshd makes each command's shell a session leader, so the pid names the process group
 * to kill. SSH "signal" requests cannot do it: sshd refuses them for root logins, which run
 * without privilege separation, and ssh2 1.17.0 drops them once stdin has ended.
 */
const PGID_MARK = 'stanzactl-pgid:';
// sshd may write its own notices to stderr before the shell runs, so the line is looked for.
const MARK_LINE = new RegExp(`(^|\n)${PGID_MARK}(\\d+)\n`);
const KILL_TIMEOUT_MS = 10_000;

function markedPgid(stderr: string): number | undefined {
  const m = MARK_LINE.exec(stderr);
  return m === null ? undefined : Number(m[2]);
}

/** Shell convention for a command killed by a signal; -1 for a signal name this OS does not know. */
function signalCode(signal: string): number {
  // ssh2 reports "SIGKILL" for the protocol's "KILL".
  const n = (os.signals as Record<string, number | undefined>)[signal.startsWith('SIG') ? signal : `SIG${signal}`];
  return n === undefined ? -1 : 128 + n;
}

/** Throws RemoteCommandError when the command exited non-zero; returns the result otherwise. */
export function check(host: HostAddress, c: Command, r: RunResult): RunResult {
  if (r.code !== 0) throw new RemoteCommandError(host, c, r);
  return r;
}

/**
 * One SSH connection per host, opened on first use and shared by every command to that host.
 * Host keys are pinned from knownHostsFile (no trust on first use); a dropped connection leaves
 * the pool and the next command reconnects. Non-zero exits are results, not errors: see check().
 */
export class SshPool implements Remote {
  private readonly conns = new Map<string, Promise<Connection>>();
  private readonly port: number;
  private readonly become: Become;
  private closed = false;

  constructor(private readonly opts: SshPoolOptions) {
    this.port = opts.port ?? 22;
    this.become = opts.become ?? (opts.user === 'root' ? 'root' : 'sudo');
  }

  async run(host: HostAddress, command: Command, options: RunOptions = {}): Promise<RunResult> {
    const { client } = await this.connection(host);
    const what = describe(command, this.become);
    const { timeoutMs } = options;
    const line = toShellLine(command, this.become);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let channel: Channel | undefined;
    let pgid: number | undefined;

    const finished = new Promise<Exit>((resolve, reject) => {
      try {
        client.exec(timeoutMs === undefined ? line : `echo ${PGID_MARK}$$ >&2; ${line}`, {}, (e, ch) => {
          if (e) return reject(new SshConnectError(host, `cannot start ${what}: ${e.message}`, true, { cause: e }));
          channel = ch;
          let exit: Exit = { code: null, signal: null };
          ch.on('data', (b: Buffer) => out.push(b));
          ch.stderr.on('data', (b: Buffer) => {
            err.push(b);
            if (timeoutMs !== undefined) pgid ??= markedPgid(Buffer.concat(err).toString('latin1'));
          });
          ch.on('exit', (code: number | null, signal?: string) => (exit = { code, signal: signal ?? null }));
          ch.on('close', () => resolve(exit));
          // EOF right after the input (or at once): a command reading stdin must not wait for more.
          ch.end(stdinValue(command));
        });
      } catch (e) {
        // ssh2 throws "Not connected" when the socket died before the pool heard of it.
        reject(new SshConnectError(host, `cannot start ${what}: ${(e as Error).message}`, true, { cause: e }));
      }
    });

    let timer: NodeJS.Timeout | undefined;
    let killing: Promise<void> | undefined;
    const expired =
      timeoutMs === undefined
        ? undefined
        : new Promise<'expired'>((resolve) => {
            timer = setTimeout(() => {
              killing = this.killGroup(host, pgid).then(() => {
                try {
                  channel?.close();
                } catch {
                  // the connection is gone, and the channel with it
                }
              });
              resolve('expired');
            }, timeoutMs);
          });
    // Once the timeout has won, the command may still end (or fail) later: nobody listens then.
    finished.catch(() => undefined);

    try {
      const exit = await (expired === undefined ? finished : Promise.race([finished, expired]));
      if (exit === 'expired' || killing !== undefined) {
        await killing;
        throw new RemoteTimeoutError(host, timeoutMs as number, `running ${what}`);
      }
      const stderr = Buffer.concat(err).toString('utf8');
      const result = { stdout: Buffer.concat(out).toString('utf8'), stderr: timeoutMs === undefined ? stderr : stderr.replace(MARK_LINE, '$1') };
      if (exit.code !== null) return { code: exit.code, ...result };
      if (exit.signal !== null) return { code: signalCode(exit.signal), ...result };
      throw new SshConnectError(host, `connection lost while running ${what}`, true);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Best effort: a kill that fails leaves the command to end on its own, and the caller has its error. */
  private async killGroup(host: HostAddress, pgid: number | undefined): Promise<void> {
    if (pgid === undefined) return;
    await this.run(host, cmd('kill', '-KILL', '--', `-${pgid}`), { timeoutMs: KILL_TIMEOUT_MS }).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(
      pending.map(async (p) => {
        const c = await p.catch(() => undefined);
        c?.client.end();
      }),
    );
  }

  /** Concurrent first commands to a host share one connect: the promise is cached, not the result. */
  private connection(host: HostAddress): Promise<Connection> {
    if (this.closed) return Promise.reject(new Error('SshPool is closed'));
    const key = `${host.name}\0${host.host}`;
    let p = this.conns.get(key);
    if (p === undefined) {
      const evict = () => {
        if (this.conns.get(key) === p) this.conns.delete(key);
      };
      p = this.open(host, evict);
      p.catch(evict);
      this.conns.set(key, p);
    }
    return p;
  }

  private async open(host: HostAddress, evict: () => void): Promise<Connection> {
    const { user, privateKeyFile, knownHostsFile } = this.opts;
    let privateKey: string;
    let pins: { accepted: Buffer[]; revoked: Buffer[] };
    try {
      privateKey = await readFile(privateKeyFile, 'utf8');
      pins = keysFor(parseKnownHosts(await readFile(knownHostsFile, 'utf8')), [host.name, host.host], this.port);
    } catch (e) {
      throw new SshConnectError(host, `cannot read SSH configuration: ${(e as Error).message}`, false, { cause: e });
    }

    let refused: HostKeyError | undefined;
    const hostVerifier = (key: Buffer): boolean => {
      const verdict = verifyHostKey(key, pins);
      if (verdict === 'accepted') return true;
      refused = new HostKeyError(host, this.port, knownHostsFile, key, verdict);
      return false;
    };

    const ssh = new NodeSSH();
    const connecting = ssh.connect({
      host: host.host,
      port: this.port,
      username: user,
      privateKey,
      hostVerifier,
      algorithms: { serverHostKey: hostKeyAlgorithms(pins.accepted) },
      readyTimeout: this.opts.connectTimeoutMs ?? 20_000,
      keepaliveInterval: this.opts.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: 3,
    });
    // node-ssh creates the ssh2 client synchronously inside connect() and stops listening for its
    // 'error' once connected: an error after that (keepalive timeout, reset) would be unhandled
    // and kill the worker. Listen for the whole life of the client; 'close' follows every error.
    const client = ssh.connection as unknown as Client | null;
    if (client === null) throw new Error('node-ssh did not create its client synchronously');
    client.on('error', () => undefined);
    client.on('close', evict);
    client.on('end', evict);

    try {
      await connecting;
    } catch (e) {
      client.end();
      if (refused) throw refused;
      const err = e as Ssh2Error;
      if (err.level === 'client-authentication') {
        throw new SshConnectError(host, `cannot connect to ${host.host}:${this.port}: authentication as ${user} refused`, false, { cause: e });
      }
      // ssh2 tags every network and protocol error with a level, and node-ssh's own "no response"
      // is an SSHError; anything else was thrown before a byte was sent: our configuration (an
      // unreadable or encrypted key), which no retry fixes.
      const transient = err.level !== undefined || e instanceof SSHError;
      throw new SshConnectError(host, `cannot connect to ${host.host}:${this.port}: ${err.message}`, transient, { cause: e });
    }
    return { ssh, client };
  }
}
