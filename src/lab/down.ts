import * as fs from 'fs';
import { destroyNetwork, pidInNetns } from './network';
import { labPaths, resolveStateDir } from './paths';
import { mustRun, processExists, sleep } from './proc';
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
  for (const h of rec.hosts) {
    // Killing PID 1 of the namespace takes every process of the host with it. Before init
    // is known, the launcher's death does the same (unshare --kill-child).
    if (pidInNetns(h.initPid, h.netns)) process.kill(h.initPid, 'SIGTERM');
    else if (pidInNetns(h.launcherPid, h.netns)) process.kill(h.launcherPid, 'SIGKILL');
  }
  const inits = rec.hosts.filter((h) => h.initPid > 0);
  if (!(await until(5000, () => inits.every((h) => !processExists(h.initPid))))) {
    for (const h of inits) if (pidInNetns(h.initPid, h.netns)) process.kill(h.initPid, 'SIGKILL');
    if (!(await until(5000, () => inits.every((h) => !processExists(h.initPid))))) {
      problems.push(`init processes still running: ${inits.filter((h) => processExists(h.initPid)).map((h) => `${h.name} pid ${h.initPid}`).join(', ')}`);
    }
  }
  // A launcher orphaned by the process that brought the lab up is reaped by the machine's
  // PID 1 a second or two later; its pid is ours until then.
  await until(10000, () => rec.hosts.every((h) => !processExists(h.launcherPid)));
  problems.push(...(await destroyNetwork(rec)));
  if (problems.length > 0) throw new Error(`lab teardown incomplete (state kept in ${rec.stateDir}):\n  ${problems.join('\n  ')}`);
}

/** Refuses to delete a directory with anything still mounted below it; never crosses into another filesystem. */
async function removeLabDir(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  const mounted = mountsUnder(dir);
  if (mounted.length > 0) throw new Error(`refusing to remove ${dir}: still mounted there:\n  ${mounted.join('\n  ')}`);
  await mustRun('rm', ['-rf', '--one-file-system', '--', dir]);
}

export function mountsUnder(dir: string): string[] {
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
