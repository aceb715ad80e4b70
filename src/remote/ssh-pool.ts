import type { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { constants as os } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeSSH, SSHError } from 'node-ssh';
import { describe, stdinValue, toShellLine, type Become, type Command } from '../shell/command';
import { killLine, markedPgid, unmarked, wrapLine, type AttemptTag } from './command-record';
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

/** One connection to a host and the channels it carries now. */
interface Slot {
  readonly conn: Promise<Connection>;
  channels: number;
  ready: boolean;
  gone: boolean;
}

interface HostSlots {
  readonly slots: Slot[];
  /** Commands waiting for a channel, woken when one closes or a connection opens or drops. */
  readonly waiting: Array<() => void>;
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
  /**
   * Commands open at once on one connection. sshd refuses channels past its MaxSessions (10 by
   * default); one more is kept for killing a command that timed out or was cancelled.
   */
  readonly maxChannelsPerConnection?: number;
  /**
   * Connections to one host; commands beyond what they carry wait for a channel. They are opened
   * one at a time, far inside sshd's MaxStartups (10:30:100 by default: more unauthenticated
   * connections at once are dropped at random).
   */
  readonly maxConnectionsPerHost?: number;
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

/*
 * Every command's shell first reports its pid on stderr (that line is removed from the result).
 * sshd makes each command's shell a session leader, so the pid names the process group to kill.
 * SSH "signal" requests cannot do it: sshd refuses them for root logins, which run without
 * privilege separation, and ssh2 1.17.0 drops them once stdin has ended.
 */
const KILL_TIMEOUT_MS = 10_000;
const MARK_WAIT_MS = 2_000;
// With MaxSessions 10: 8 commands and a kill leave one channel spare for sshd's own accounting.
export const DEFAULT_SSH_CHANNELS_PER_CONNECTION = 8;
export const DEFAULT_SSH_CONNECTIONS_PER_HOST = 4;

const noop = () => undefined;

/*
 * sshd frees a closed session only after it has processed the close, in a later turn of its loop:
 * a channel opened right after another closed may meet MaxSessions though the pool counts fewer
 * (measured: 100 parallel commands at 8 per connection, 3-6 refused). Nothing ran then, so the
 * command takes the next free channel and tries again.
 */
const REFUSED_TRIES = 40;
const REFUSED_RETRY_MS = 50;

/** OpenSSH's answer to a session past MaxSessions: channel open failure, reason 2 (connect failed), "open failed". */
function sessionRefused(e: Error): boolean {
  return (e as Error & { reason?: unknown }).reason === 2;
}

class SessionRefused extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
  }
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
 * Connections per host, opened on first use and shared by every command to that host: up to
 * maxChannelsPerConnection commands ride one connection, more open further connections (one at a
 * time, up to maxConnectionsPerHost), and beyond that commands wait for a channel. Host keys are
 * pinned from knownHostsFile (no trust on first use); a dropped connection leaves the pool and the
 * next command reconnects. Non-zero exits are results, not errors: see check().
 */
export class SshPool implements Remote {
  private readonly hosts = new Map<string, HostSlots>();
  private readonly port: number;
  private readonly become: Become;
  private readonly maxChannels: number;
  private readonly maxConnections: number;
  private closed = false;

  constructor(private readonly opts: SshPoolOptions) {
    this.port = opts.port ?? 22;
    this.become = opts.become ?? (opts.user === 'root' ? 'root' : 'sudo');
    this.maxChannels = opts.maxChannelsPerConnection ?? DEFAULT_SSH_CHANNELS_PER_CONNECTION;
    this.maxConnections = opts.maxConnectionsPerHost ?? DEFAULT_SSH_CONNECTIONS_PER_HOST;
    if (!(this.maxChannels >= 1 && this.maxConnections >= 1)) throw new Error('SshPool needs at least one connection and one channel per host');
  }

  run(host: HostAddress, command: Command, options: RunOptions = {}): Promise<RunResult> {
    return this.runOn(host, command, options, false);
  }

  private async runOn(host: HostAddress, command: Command, options: RunOptions, urgent: boolean): Promise<RunResult> {
    const { timeoutMs, signal, attempt } = options;
    const what = describe(command, this.become);
    // The timeout runs from the call, so time spent waiting for a channel counts too.
    const expiry = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    const stops = [signal, expiry].filter((s): s is AbortSignal => s !== undefined);
    const line = wrapLine((b) => toShellLine(command, b), this.become, attempt);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let channel: Channel | undefined;
    let pgid: number | undefined;
    let marked: () => void = noop;
    const markSeen = new Promise<void>((resolve) => (marked = resolve));

    const exec = (client: Client) => new Promise<Exit>((resolve, reject) => {
      try {
        client.exec(line, {}, (e, ch) => {
          if (e) return reject(sessionRefused(e) ? new SessionRefused(e) : new SshConnectError(host, `cannot start ${what}: ${e.message}`, true, { cause: e }));
          channel = ch;
          let exit: Exit = { code: null, signal: null };
          ch.on('data', (b: Buffer) => out.push(b));
          ch.stderr.on('data', (b: Buffer) => {
            err.push(b);
            if (pgid === undefined) {
              pgid = markedPgid(Buffer.concat(err).toString('latin1'));
              if (pgid !== undefined) marked();
            }
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

    const finished = (async (): Promise<Exit> => {
      for (let tries = 1; ; tries++) {
        const { client, release } = await this.channel(host, urgent, stops);
        try {
          // The channel is free for the next command only once it closed.
          return await exec(client);
        } catch (e) {
          if (!(e instanceof SessionRefused)) throw e;
          if (tries >= REFUSED_TRIES) throw new SshConnectError(host, `cannot start ${what}: ${e.message} (sshd refused ${tries} times: are its MaxSessions below ${this.maxChannels + 1}?)`, true, { cause: e.cause });
        } finally {
          release();
        }
        await sleep(REFUSED_RETRY_MS);
      }
    })();
    // Once stopped, the command may still end (or fail) later: nobody listens then.
    finished.catch(() => undefined);

    // Stopped: the timeout expired or the activity's attempt ended. The command must not outlive
    // that: its process group is killed on the host before anybody is told.
    let onStop: (() => void) | undefined;
    const stopped = new Promise<'expired' | 'aborted'>((resolve) => {
      onStop = () => resolve(signal?.aborted ? 'aborted' : 'expired');
      if (stops.some((s) => s.aborted)) onStop();
      for (const s of stops) s.addEventListener('abort', onStop, { once: true });
    });
    try {
      const exit = await Promise.race([finished, stopped]);
      if (exit === 'expired' || exit === 'aborted') {
        // Stopped right after the start: the shell may not have told its pid yet.
        if (channel !== undefined) await Promise.race([markSeen, finished.then(noop, noop), sleep(MARK_WAIT_MS)]);
        await this.killGroup(host, pgid, attempt);
        try {
          channel?.close();
        } catch {
          // the connection is gone, and the channel with it
        }
        if (exit === 'aborted') throw signal?.reason;
        throw new RemoteTimeoutError(host, timeoutMs as number, channel === undefined ? `waiting for a free SSH channel to run ${what}` : `running ${what}`);
      }
      const result = { stdout: Buffer.concat(out).toString('utf8'), stderr: unmarked(Buffer.concat(err).toString('utf8')) };
      if (exit.code !== null) return { code: exit.code, ...result };
      if (exit.signal !== null) return { code: signalCode(exit.signal), ...result };
      throw new SshConnectError(host, `connection lost while running ${what}`, true);
    } finally {
      for (const s of stops) s.removeEventListener('abort', onStop as () => void);
    }
  }

  /** Best effort: a kill that fails leaves the command to end on its own, and the caller has its error. */
  private async killGroup(host: HostAddress, pgid: number | undefined, attempt: AttemptTag | undefined): Promise<void> {
    if (pgid === undefined) return;
    await this.runOn(host, { argv: killLine(pgid, attempt) }, { timeoutMs: KILL_TIMEOUT_MS }, true).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.hosts.values()];
    this.hosts.clear();
    await Promise.all(
      all.map(async (h) => {
        for (const wake of h.waiting.splice(0)) wake();
        await Promise.all(
          h.slots.splice(0).map(async (slot) => {
            const c = await slot.conn.catch(() => undefined);
            c?.client.end();
          }),
        );
      }),
    );
  }

  /**
   * A channel on a connection to `host`, counted until `release`. Concurrent first commands share
   * one connect: the promise is counted, not the result. An urgent caller (a kill) may use the one
   * channel kept spare, and need not wait for a new connection's turn.
   */
  private async channel(host: HostAddress, urgent: boolean, stops: AbortSignal[]): Promise<{ client: Client; release: () => void }> {
    const key = `${host.name}\0${host.host}`;
    for (;;) {
      if (this.closed) throw new Error('SshPool is closed');
      for (const s of stops) s.throwIfAborted();
      let h = this.hosts.get(key);
      if (h === undefined) {
        h = { slots: [], waiting: [] };
        this.hosts.set(key, h);
      }
      const slot = this.pick(h, host, urgent);
      if (slot !== undefined) {
        slot.channels++;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          slot.channels--;
          this.wake(h);
        };
        try {
          return { client: (await slot.conn).client, release };
        } catch (e) {
          release();
          throw e;
        }
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          for (const s of stops) s.removeEventListener('abort', wake);
          resolve();
        };
        h.waiting.push(wake);
        for (const s of stops) s.addEventListener('abort', wake, { once: true });
      });
    }
  }

  private pick(h: HostSlots, host: HostAddress, urgent: boolean): Slot | undefined {
    const limit = this.maxChannels + (urgent ? 1 : 0);
    const free = h.slots.filter((s) => s.channels < limit).sort((a, b) => Number(b.ready) - Number(a.ready) || a.channels - b.channels)[0];
    if (free !== undefined) return free;
    const opening = h.slots.some((s) => !s.ready);
    if (h.slots.length >= this.maxConnections || (opening && !urgent)) return undefined;
    let slot: Slot | undefined;
    const drop = () => {
      if (slot === undefined || slot.gone) return;
      slot.gone = true;
      h.slots.splice(h.slots.indexOf(slot), 1);
      this.wake(h);
    };
    slot = { conn: this.open(host, drop), channels: 0, ready: false, gone: false };
    slot.conn.then(
      () => {
        (slot as Slot).ready = true;
        this.wake(h);
      },
      drop,
    );
    h.slots.push(slot);
    return slot;
  }

  private wake(h: HostSlots): void {
    for (const wake of h.waiting.splice(0)) wake();
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
