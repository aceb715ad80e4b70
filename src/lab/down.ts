import * as fs from 'fs';
import { destroyNetwork, pidInNetns } from './network';
import { labPaths, resolveStateDir } from './paths';
import { mustRun, processExists, processLive, sleep } from './proc';
import { readRecord } from './record';
import type { LabRecord } from './record';

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
  // Killing PID 1 of the namespace takes every process of the host with it. Before init is
  // known, killing the launcher does the same (unshare --kill-child).
  const stop = (signal: NodeJS.Signals) => {
    for (const h of rec.hosts) {
      if (pidInNetns(h.initPid, h.netns)) signalIfAlive(h.initPid, signal);
      else if (pidInNetns(h.launcherPid, h.netns)) signalIfAlive(h.launcherPid, 'SIGKILL');
    }
  };
  const running = () => rec.hosts.filter((h) => pidInNetns(h.initPid, h.netns) || pidInNetns(h.launcherPid, h.netns));
  stop('SIGTERM');
  if (!(await until(5000, () => running().length === 0))) {
    stop('SIGKILL');
    if (!(await until(5000, () => running().length === 0))) {
      problems.push(`host processes still running: ${running().map((h) => `${h.name} (init ${h.initPid}, launcher ${h.launcherPid})`).join(', ')}`);
    }
  }
  // A launcher orphaned by the process that brought the lab up stays a zombie until the
  // machine's PID 1 reaps it, a second or two later; its pid is not free before that.
  await until(10000, () => rec.hosts.every((h) => !isZombie(h.launcherPid) && !isZombie(h.initPid)));
  problems.push(...(await destroyNetwork(rec)));
  if (problems.length > 0) throw new Error(`lab teardown incomplete (state kept in ${rec.stateDir}):\n  ${problems.join('\n  ')}`);
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
