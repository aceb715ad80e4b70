import * as fs from 'fs';
import * as path from 'path';
import { systemdFlavourOf } from './flavours';
import { hostCgroup, isHostNspawn, systemdCgroupRoots } from './host-systemd';
import { destroyNetwork, pidInNetns } from './network';
import { labPaths, resolveStateDir } from './paths';
import { mustRun, processExists, processLive, sleep } from './proc';
import { readRecord } from './record';
import type { LabRecord } from './record';
import { s3Running } from './s3';

/** Removes the lab recorded in the state dir: processes, mounts, links, netns, state files. */
export async function labDown(opts: { stateDir?: string } = {}): Promise<void> {
  const paths = labPaths(resolveStateDir(opts.stateDir));
  const rec = readRecord(paths.record);
  if (rec) await teardown(rec);
  await removeLabDir(paths.dir);
}

/**
 * Stops every host and deletes the network. A pid is signalled only while it is still in its
 * host's netns: after a reboot or a crash the number may belong to somebody else.
 */
export async function teardown(rec: LabRecord): Promise<void> {
  const problems: string[] = [];
  const hosts = rec.hosts.map((h) => ({ ...h, ...stopperOf(rec, h) }));
  const running = () => hosts.filter((h) => h.running());
  for (const h of hosts) h.stop();
  // An orderly systemd shutdown stops PostgreSQL and every unit first; the small init goes at once.
  const grace = hosts.some((h) => h.systemd) ? 30000 : 5000;
  if (!(await until(grace, () => running().length === 0))) {
    for (const h of running()) h.kill();
    if (!(await until(5000, () => running().length === 0))) {
      problems.push(`host processes still running: ${running().map((h) => `${h.name} (init ${h.initPid}, launcher ${h.launcherPid})`).join(', ')}`);
    }
  }
  // A launcher orphaned by the process that brought the lab up stays a zombie until the
  // machine's PID 1 reaps it, a second or two later; its pid is not free before that.
  await until(10000, () => rec.hosts.every((h) => !isZombie(h.launcherPid) && !isZombie(h.initPid)));
  // The S3 server died with its host's PID namespace; its nsenter, outside it, ends right after.
  if (rec.s3 && !(await until(5000, () => s3Running(rec).length === 0))) problems.push(`S3 server processes still running: ${s3Running(rec).join(', ')}`);
  // A cgroup stays busy for a moment after its last process ended.
  let cgroupsLeft: string[] = [];
  await until(5000, () => (cgroupsLeft = hosts.filter((h) => h.systemd).flatMap((h) => removeHostCgroups(h.netns))).length === 0);
  problems.push(...cgroupsLeft);
  problems.push(...(await destroyNetwork(rec)));
  if (problems.length > 0) throw new Error(`lab teardown incomplete (state kept in ${rec.stateDir}):\n  ${problems.join('\n  ')}`);
}

/**
 * How one host is stopped. A pid is signalled only while it is provably the lab's: init in its
 * host's netns, the small init's launcher likewise, nspawn by the netns on its command line.
 */
function stopperOf(rec: LabRecord, h: LabRecord['hosts'][number]) {
  const init = () => pidInNetns(h.initPid, h.netns);
  if (systemdFlavourOf(rec.layout, h.name)) {
    const nspawn = () => isHostNspawn(h.launcherPid, h.netns);
    return {
      systemd: true,
      running: () => init() || nspawn(),
      // nspawn turns SIGTERM into the host's orderly shutdown (SIGRTMIN+3 to its systemd).
      stop: () => { if (nspawn()) signalIfAlive(h.launcherPid, 'SIGTERM'); else if (init()) signalIfAlive(h.initPid, 'SIGKILL'); },
      // Killing the host's PID 1 takes every process of its PID namespace with it.
      kill: () => {
        if (init()) signalIfAlive(h.initPid, 'SIGKILL');
        if (nspawn()) signalIfAlive(h.launcherPid, 'SIGKILL');
      },
    };
  }
  const launcher = () => pidInNetns(h.launcherPid, h.netns);
  // Killing PID 1 of the namespace takes every process of the host with it. Before init is
  // known, killing the launcher does the same (unshare --kill-child).
  const signal = (sig: NodeJS.Signals) => {
    if (init()) signalIfAlive(h.initPid, sig);
    else if (launcher()) signalIfAlive(h.launcherPid, 'SIGKILL');
  };
  return { systemd: false, running: () => init() || launcher(), stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
}

/** nspawn leaves the cgroups it ran the host in; they are empty once its processes are gone. */
function removeHostCgroups(netns: string): string[] {
  const left: string[] = [];
  for (const root of systemdCgroupRoots()) {
    const top = path.join(root, hostCgroup(netns));
    if (!fs.existsSync(top)) continue;
    for (const dir of cgroupDirsDeepestFirst(top)) {
      try {
        fs.rmdirSync(dir);
      } catch (e) {
        left.push(`cgroup ${dir}: ${(e as Error).message}`);
      }
    }
  }
  return left;
}

function cgroupDirsDeepestFirst(dir: string): string[] {
  const subdirs = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory());
  return [...subdirs.flatMap((d) => cgroupDirsDeepestFirst(path.join(dir, d.name))), dir];
}

/** The process may end between the check and the signal. */
function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

function isZombie(pid: number): boolean {
  return processExists(pid) && !processLive(pid);
}

/** Refuses to delete a directory with anything still mounted below it; never crosses into another filesystem. */
async function removeLabDir(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  const mounted = mountsUnder(dir);
  if (mounted.length > 0) throw new Error(`refusing to remove ${dir}: still mounted there:\n  ${mounted.join('\n  ')}`);
  await mustRun('rm', ['-rf', '--one-file-system', '--', dir]);
}

function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mp): mp is string => mp !== undefined)
    // mountinfo escapes space, tab, newline and backslash in octal.
    .map((mp) => mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((mp) => mp === dir || mp.startsWith(dir + '/'));
}

async function until(timeoutMs: number, done: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}
