import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { projectRoot } from '../paths';
import { processLive, waitFor } from './proc';

interface HostBoot {
  name: string;
  ip: string;
  netns: string;
  dir: string;
  /** /etc/hosts for every host of the lab. */
  etcHosts: string;
  operatorPublicKey: string;
  edb: boolean;
}

interface StartedHost {
  initPid: number;
  /** The `unshare` process that parents init; it exits when init does. */
  launcherPid: number;
}

const SANE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function initScript(): string {
  return fs.readFileSync(path.join(projectRoot(), 'src', 'lab', 'host-init.sh'), 'utf8');
}

/**
 * Starts the host's PID 1 in its netns and returns once sshd answers on the host's address.
 * The launcher is detached so the lab outlives the process that brought it up.
 */
export async function startHost(boot: HostBoot, record: (pids: Partial<StartedHost>) => void): Promise<StartedHost> {
  fs.mkdirSync(boot.dir, { recursive: true });
  const logFile = path.join(boot.dir, 'init.log');
  const log = fs.openSync(logFile, 'w');
  const child = spawn(
    'ip',
    ['netns', 'exec', boot.netns, 'unshare', '--mount', '--uts', '--ipc', '--pid', '--fork', '--kill-child', '--propagation', 'private',
      'bash', '-c', 'eval "$LAB_INIT"', 'stanzactl-lab-init'],
    {
      detached: true,
      stdio: ['ignore', log, log],
      env: {
        PATH: SANE_PATH,
        LANG: 'C.UTF-8',
        LAB_INIT: initScript(),
        LAB_HOST: boot.name,
        LAB_IP: boot.ip,
        LAB_DIR: boot.dir,
        LAB_HOSTS: boot.etcHosts,
        LAB_PUBKEY: boot.operatorPublicKey,
        LAB_EDB: boot.edb ? '1' : '0',
      },
    },
  );
  fs.closeSync(log);
  child.unref();
  let exited: string | undefined;
  child.on('exit', (code, signal) => { exited = `exit ${code ?? signal}`; });
  child.on('error', (e) => { exited = e.message; });
  const failed = () => {
    if (exited === undefined) return undefined;
    const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n');
    return new Error(`${boot.name}: init stopped (${exited}); ${logFile}:\n${tail}`);
  };

  const launcherPid = child.pid ?? 0;
  // Recorded at once: until init is known, killing the launcher is how this host is stopped.
  record({ launcherPid });
  const initPid = await waitFor(`${boot.name}'s init process`, 5000, () => {
    const err = failed();
    if (err) throw err;
    return firstChild(launcherPid);
  }, 10);
  record({ initPid });
  await waitFor(`sshd on ${boot.name} (${boot.ip}:22); see ${logFile}`, 30000, async () => {
    const err = failed();
    if (err) throw err;
    return (await tcpAnswers(boot.ip, 22, 500)) ? true : undefined;
  }, 50);
  return { initPid, launcherPid };
}

function firstChild(pid: number): number | undefined {
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

/** True if a process named `comm` runs in the same PID namespace as `initPid`. */
export function runsInHost(initPid: number, comm: string): boolean {
  let ns: string;
  try {
    ns = fs.readlinkSync(`/proc/${initPid}/ns/pid`);
  } catch {
    return false;
  }
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm && fs.readlinkSync(`/proc/${entry}/ns/pid`) === ns && processLive(Number(entry))) return true;
    } catch {
      // The process ended while we looked.
    }
  }
  return false;
}
