import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { labScript } from './paths';
import { processLive, waitFor } from './proc';
import { S3_CA_FILE } from './types';

export interface HostBoot {
  name: string;
  ip: string;
  netns: string;
  dir: string;
  /** /etc/hosts for every host of the lab. */
  etcHosts: string;
  operatorPublicKey: string;
  edb: boolean;
  /** The lab's S3 CA certificate (PEM), written to S3_CA_FILE; '' in a lab without S3. */
  s3Ca: string;
}

export interface StartedHost {
  initPid: number;
  /** The process that parents init (`unshare`, or `systemd-nspawn`); it exits when init does. */
  launcherPid: number;
}

export type RecordPids = (pids: Partial<StartedHost>) => void;

/** How one kind of host is started: the launcher's command line, and how to find its PID 1. */
export interface Launch {
  argv: string[];
  env: Record<string, string>;
  findInit: (launcherPid: number) => number | undefined;
  /** How long sshd may take to answer once init runs. */
  readyTimeoutMs: number;
}

export const SANE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A host script with the functions it shares with the other kind of host. */
export function hostScript(file: string): string {
  const read = (name: string) => fs.readFileSync(labScript(name), 'utf8');
  return `${read('host-common.sh')}\n${read(file)}`;
}

/** The environment both kinds of host scripts read. */
export function hostEnv(boot: HostBoot): Record<string, string> {
  return {
    PATH: SANE_PATH,
    LANG: 'C.UTF-8',
    LAB_HOST: boot.name,
    LAB_IP: boot.ip,
    LAB_DIR: boot.dir,
    LAB_HOSTS: boot.etcHosts,
    LAB_PUBKEY: boot.operatorPublicKey,
    LAB_EDB: boot.edb ? '1' : '0',
    LAB_S3_CA: boot.s3Ca,
    LAB_S3_CA_FILE: S3_CA_FILE,
  };
}

/** Starts a host whose PID 1 is a small init (host-init.sh) in fresh namespaces. */
export function startHost(boot: HostBoot, record: RecordPids): Promise<StartedHost> {
  return launchHost(boot, {
    argv: ['ip', 'netns', 'exec', boot.netns, 'unshare', '--mount', '--uts', '--ipc', '--pid', '--fork', '--kill-child', '--propagation', 'private',
      'bash', '-c', 'eval "$LAB_INIT"', 'stanzactl-lab-init'],
    env: { ...hostEnv(boot), LAB_INIT: hostScript('host-init.sh') },
    findInit: firstChild,
    readyTimeoutMs: 30000,
  }, record);
}

/**
 * Runs the launcher and returns once sshd answers on the host's address.
 * The launcher is detached so the lab outlives the process that brought it up.
 */
export async function launchHost(boot: HostBoot, launch: Launch, record: RecordPids): Promise<StartedHost> {
  fs.mkdirSync(boot.dir, { recursive: true });
  const launcher = spawnDetached(`${boot.name}: init`, launch.argv, launch.env, path.join(boot.dir, 'init.log'));
  const launcherPid = launcher.pid;
  // Recorded at once: until init is known, killing the launcher is how this host is stopped.
  record({ launcherPid });
  const initPid = await launcher.waitFor(`${boot.name}'s init process`, 15000, () => launch.findInit(launcherPid), 10);
  record({ initPid });
  await launcher.waitFor(`sshd on ${boot.name} (${boot.ip}:22); see ${launcher.logFile}`, launch.readyTimeoutMs, async () => ((await tcpAnswers(boot.ip, 22, 500)) ? true : undefined), 50);
  return { initPid, launcherPid };
}

/** A program started by spawnDetached. */
export interface Detached {
  pid: number;
  logFile: string;
  /** waitFor, failing at once with the end of the log if the program ends meanwhile. */
  waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>, everyMs: number): Promise<T>;
}

/**
 * Starts a program detached, its output appended to `logFile`, so that it outlives the process
 * that started it (a lab outlives `lab up`). `name` says what stopped when it ends too early.
 */
export function spawnDetached(name: string, argv: string[], env: Record<string, string>, logFile: string): Detached {
  const log = fs.openSync(logFile, 'a');
  const [program, ...args] = argv;
  const child = spawn(program, args, { detached: true, stdio: ['ignore', log, log], env });
  fs.closeSync(log);
  child.unref();
  let exited: string | undefined;
  child.on('exit', (code, signal) => { exited = `exit ${code ?? signal}`; });
  child.on('error', (e) => { exited = e.message; });
  const failed = () => {
    if (exited === undefined) return undefined;
    const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n');
    return new Error(`${name} stopped (${exited}); ${logFile}:\n${tail}`);
  };
  return {
    pid: child.pid ?? 0,
    logFile,
    waitFor: (what, timeoutMs, check, everyMs) => waitFor(what, timeoutMs, () => {
      const err = failed();
      if (err) throw err;
      return check();
    }, everyMs),
  };
}

/** The first child of `pid`: what a launcher (unshare, nsenter) started. */
export function firstChild(pid: number): number | undefined {
  try {
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return kids ? Number(kids.split(/\s+/)[0]) : undefined;
  } catch {
    return undefined;
  }
}

export function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** The host's ed25519 public key as its sshd generated it, read from the overlay's upper layer. */
export function hostPublicKey(dir: string): string {
  const [type, key] = fs.readFileSync(path.join(dir, 'upper', 'etc', 'ssh', 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/);
  if (type !== 'ssh-ed25519' || !key) throw new Error(`unexpected host key in ${dir}`);
  return `${type} ${key}`;
}

/** True if a process named one of `comms` runs in the same PID namespace as `initPid`. */
export function runsInHost(initPid: number, comms: string[]): boolean {
  let ns: string;
  try {
    ns = fs.readlinkSync(`/proc/${initPid}/ns/pid`);
  } catch {
    return false;
  }
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (comms.includes(fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim()) && fs.readlinkSync(`/proc/${entry}/ns/pid`) === ns && processLive(Number(entry))) return true;
    } catch {
      // The process ended while we looked.
    }
  }
  return false;
}
