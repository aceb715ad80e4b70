import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { promisify } from 'node:util';
import { labDown, labExec, labStatus, labUp } from '../../dev/lab';
import type { Lab, LabLayout, LabUpOptions } from '../../dev/lab';
import { systemdCgroupRoots } from '../../dev/lab/host-systemd';
import { labPaths } from '../../dev/lab/paths';
import { readRecord } from '../../dev/lab/record';

export const run = promisify(execFile);

export function sshArgs(lab: Lab, ip: string, command: string): string[] {
  return ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'ConnectTimeout=5', '-i', lab.privateKeyFile, `root@${ip}`, command];
}

export async function inHost(lab: Lab, host: string, argv: string[], user?: string): Promise<string> {
  const r = await labExec(lab, host, argv, { user });
  assert.equal(r.code, 0, `${host}: ${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export function hostIp(lab: Lab, name: string): string {
  const h = lab.hosts.find((x) => x.name === name);
  assert.ok(h, `no ${name} in lab`);
  return h.ip;
}

/** Brings a lab up for one describe block and guarantees it comes down, whatever fails. */
export function labFixture(layout: LabLayout, prefix: string, subnet: string, more: Pick<LabUpOptions, 's3'> = {}) {
  const fx = { lab: undefined as unknown as Lab, stateDir: '', upMs: 0 };
  before(async () => {
    fx.stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `stanzactl-lab-${layout}-`));
    const t0 = Date.now();
    fx.lab = await labUp({ layout, prefix, subnet, stateDir: fx.stateDir, ...more });
    fx.upMs = Date.now() - t0;
  });
  after(async () => {
    if (!fx.stateDir) return;
    await labDown({ stateDir: fx.stateDir });
    fs.rmSync(fx.stateDir, { recursive: true, force: true });
  });
  return fx;
}

/** Takes the lab down and checks it left no process, link, netns, mount, cgroup or state file. */
export async function downLeavesNothing(fx: { stateDir: string }, prefix: string, diagnostic: (msg: string) => void): Promise<void> {
  const rec = readRecord(labPaths(fx.stateDir).record);
  assert.ok(rec, 'no lab recorded');
  const t0 = Date.now();
  await labDown({ stateDir: fx.stateDir });
  diagnostic(`lab down (${rec.layout}): ${Date.now() - t0} ms`);
  await assertNothingLeft(prefix, fx.stateDir, [...rec.hosts.flatMap((h) => [h.initPid, h.launcherPid]), rec.s3?.pid ?? 0, rec.s3?.launcherPid ?? 0]);
  assert.deepEqual(await labStatus({ stateDir: fx.stateDir }), { up: false, hosts: [] });
  // Safe to call when nothing is up.
  await labDown({ stateDir: fx.stateDir });
}

export async function assertNothingLeft(prefix: string, stateDir: string, pids: number[]): Promise<void> {
  const netns = (await run('ip', ['netns', 'list'])).stdout;
  assert.ok(!netns.split('\n').some((l) => l.startsWith(`${prefix}-`)), `netns left: ${netns}`);
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
  assert.ok(!links.split('\n').some((l) => (l.split(': ')[1] ?? '').startsWith(`${prefix}-`)), `links left: ${links}`);
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(stateDir));
  assert.deepEqual(mounts, []);
  for (const pid of pids.filter((p) => p > 0)) assert.ok(!fs.existsSync(`/proc/${pid}`), `the lab's process ${pid} still exists`);
  for (const root of systemdCgroupRoots()) {
    const cgroups = fs.readdirSync(root).filter((d) => d.startsWith(`stanzactl-lab-${prefix}-`));
    assert.deepEqual(cgroups, [], `cgroups left in ${root}`);
  }
  assert.ok(!fs.existsSync(path.join(stateDir, 'lab')), 'lab state dir left');
}
