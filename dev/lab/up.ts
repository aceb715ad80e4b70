import * as fs from 'fs';
import { labDown } from './down';
import { systemdFlavourOf } from './flavours';
import { hostPublicKey, startHost } from './host';
import type { HostBoot, RecordPids, StartedHost } from './host';
import { startSystemdHost } from './host-systemd';
import { assertNetworkFree, createNetwork, planNetwork } from './network';
import type { NetworkPlan } from './network';
import { LAB_COMMAND, labPaths, resolveStateDir } from './paths';
import type { LabPaths } from './paths';
import { mustRun } from './proc';
import { labOf, readRecord, writeRecord } from './record';
import type { LabRecord } from './record';
import { labStartS3, makeS3, startS3Server } from './s3';
import { statusOf } from './status';
import { isPostgresHost, PRIMARY_HOST, S3_ENDPOINT, S3_HOST } from './types';
import type { Lab, LabLayout } from './types';

export interface LabUpOptions {
  layout?: LabLayout;
  prefix?: string;
  subnet?: string;
  stateDir?: string;
  /** An S3 host too, with an S3-compatible server over TLS (Lab.s3). */
  s3?: boolean;
}

export const DEFAULT_PREFIX = 'stz';
export const DEFAULT_SUBNET = '10.231.7.0/24';

/** Brings the lab's hosts up; returns the recorded lab instead when it is already up and healthy. */
export async function labUp(opts: LabUpOptions = {}): Promise<Lab> {
  const stateDir = resolveStateDir(opts.stateDir);
  const paths = labPaths(stateDir);
  const existing = readRecord(paths.record);
  if (existing) {
    const status = await statusOf(existing);
    if (status.up && status.hosts.every((h) => h.sshd)) {
      assertMatches(existing, opts);
      // A server labStopS3 stopped comes back on its data; its host and every other are intact.
      if (status.s3?.running === false) await labStartS3(labOf(existing));
      return labOf(existing);
    }
  }
  // Whatever is left of a lab that is partly gone (reboot, killed host) is removed, and it is rebuilt from scratch.
  await labDown({ stateDir });

  const plan = planNetwork(opts.prefix ?? DEFAULT_PREFIX, opts.subnet ?? DEFAULT_SUBNET, opts.s3 ?? false);
  await assertNetworkFree(plan);
  const rec = initialRecord(stateDir, paths, plan, opts.layout ?? 'debian');
  fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  // Recorded before anything exists, so that a failure half-way can be undone from the record.
  writeRecord(paths.record, rec);
  try {
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stanzactl-lab-operator', '-f', paths.privateKey]);
    const operatorPublicKey = fs.readFileSync(`${paths.privateKey}.pub`, 'utf8').trim();
    await createNetwork(plan);
    let s3Ca = '';
    if (opts.s3) {
      const made = await makeS3(paths.s3);
      rec.s3 = made.s3;
      s3Ca = made.caPem;
      writeRecord(paths.record, rec);
    }
    const etcHosts = etcHostsFor(plan);
    // Every host settles before a failure is reported, so the record holds each pid the teardown must stop.
    const boots = await Promise.allSettled(
      rec.hosts.map((h) =>
        startAny(
          rec.layout,
          { name: h.name, ip: h.ip, netns: h.netns, dir: paths.host(h.name), etcHosts, operatorPublicKey, edb: hasEdbUser(rec.layout, h.name), s3Ca },
          (pids) => {
            Object.assign(h, pids);
            writeRecord(paths.record, rec);
          },
        ),
      ),
    );
    const failed = boots.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    if (failed) throw failed.reason;
    if (rec.s3) await startS3Server(rec, () => writeRecord(paths.record, rec));
    // Pinned from the hosts' own files, never learnt on first use.
    const knownHosts = rec.hosts.map((h) => `${h.name},${h.ip} ${hostPublicKey(paths.host(h.name))}\n`).join('');
    fs.writeFileSync(paths.knownHosts, knownHosts, { mode: 0o644 });
    return labOf(rec);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    try {
      await labDown({ stateDir });
    } catch (cleanup) {
      err.message += `\nand cleaning up failed too: ${cleanup instanceof Error ? cleanup.message : String(cleanup)}`;
    }
    throw err;
  }
}

function hasEdbUser(layout: LabLayout, host: string): boolean {
  return (layout === 'edb' || layout === 'systemd-epas') && isPostgresHost(host);
}

function startAny(layout: LabLayout, boot: HostBoot, record: RecordPids): Promise<StartedHost> {
  const flavour = systemdFlavourOf(layout, boot.name);
  return flavour ? startSystemdHost({ ...boot, flavour, primary: boot.name === PRIMARY_HOST }, record) : startHost(boot, record);
}

function initialRecord(stateDir: string, paths: LabPaths, plan: NetworkPlan, layout: LabLayout): LabRecord {
  return {
    version: 1,
    stateDir,
    prefix: plan.prefix,
    subnet: plan.subnet,
    layout,
    bridge: plan.bridge,
    privateKeyFile: paths.privateKey,
    knownHostsFile: paths.knownHosts,
    hosts: plan.hosts.map((h) => ({ name: h.name, ip: h.ip, netns: h.netns, veth: h.veth, initPid: 0, launcherPid: 0 })),
  };
}

function assertMatches(rec: LabRecord, opts: LabUpOptions): void {
  const asked: [string, string | undefined, string][] = [
    ['layout', opts.layout, rec.layout],
    ['prefix', opts.prefix, rec.prefix],
    ['subnet', opts.subnet, rec.subnet],
    ['s3', opts.s3 === undefined ? undefined : String(opts.s3), String(rec.s3 !== undefined)],
  ];
  const differ = asked.filter(([, want, have]) => want !== undefined && want !== have);
  if (differ.length > 0) {
    throw new Error(`a lab is already up in ${rec.stateDir} with ${differ.map(([k, , have]) => `${k} ${have}`).join(', ')}; run "${LAB_COMMAND} down" first`);
  }
}

function etcHostsFor(plan: NetworkPlan): string {
  const width = Math.max(...plan.hosts.map((h) => h.name.length));
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    '',
    ...plan.hosts.map((h) => `${h.ip.padEnd(15)} ${h.name.padEnd(width)}${h.name === S3_HOST ? ` ${S3_ENDPOINT}` : ''}`.trimEnd()),
  ].join('\n');
}
