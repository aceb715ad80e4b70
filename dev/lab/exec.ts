import type { ProcResult } from './proc';
import { runProgram } from './proc';
import type { Lab, LabHost } from './types';

export function findHost(lab: Lab, host: string): LabHost {
  const h = lab.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`no host "${host}" in the lab (hosts: ${lab.hosts.map((x) => x.name).join(', ')})`);
  return h;
}

/**
 * Runs argv inside a host through its namespaces, without SSH, as root or as `user`.
 * The environment is built from nothing, like a login's: the caller's must not leak in.
 */
export async function labExec(lab: Lab, host: string, argv: string[], opts: ExecOptions = {}): Promise<ProcResult> {
  return execIn(findHost(lab, host).initPid, argv, opts);
}

export interface ExecOptions {
  user?: string;
  input?: string;
}

/** labExec for the host whose PID 1 is `initPid` (as the machine sees it). */
export async function execIn(initPid: number, argv: string[], opts: ExecOptions = {}): Promise<ProcResult> {
  if (argv.length === 0) throw new Error('labExec: empty command');
  // -w takes init's working directory, "/": root's home is 0700 and tools warn when they cannot stat it.
  const enter = ['-t', String(initPid), '-n', '-m', '-u', '-i', '-p', '-r', '-w', '--'];
  const env = ['env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'HOME=/root'];
  // runuser sets HOME, USER and LOGNAME for the target user, so ~/.pgpass and ~/.ssh resolve.
  const asUser = opts.user && opts.user !== 'root' ? ['runuser', '-u', opts.user, '--'] : [];
  return runProgram('nsenter', [...enter, ...env, ...asUser, ...argv], { input: opts.input });
}
