import { systemdFlavourOf } from './flavours';
import { runsInHost, tcpAnswers } from './host';
import { pidInNetns } from './network';
import { labPaths, resolveStateDir } from './paths';
import { labOf, readRecord } from './record';
import { s3Running } from './s3';
import type { LabRecord } from './record';
import type { Lab } from './types';

export interface LabStatus {
  up: boolean;
  lab?: Lab;
  hosts: { name: string; ip: string; sshd: boolean; postgres: boolean }[];
  /** In a lab with S3: whether its server runs and answers. */
  s3?: { running: boolean };
}

export async function labStatus(opts: { stateDir?: string } = {}): Promise<LabStatus> {
  const rec = readRecord(labPaths(resolveStateDir(opts.stateDir)).record);
  return rec ? statusOf(rec) : { up: false, hosts: [] };
}

/** Up = every host's init still lives in its netns; sshd = its port answers from here. */
export async function statusOf(rec: LabRecord): Promise<LabStatus> {
  const hosts = await Promise.all(
    rec.hosts.map(async (h) => {
      const alive = pidInNetns(h.initPid, h.netns);
      return {
        name: h.name,
        ip: h.ip,
        sshd: alive && (await tcpAnswers(h.ip, 22, 1000)),
        postgres: alive && runsInHost(h.initPid, postmasterNames(rec, h.name)),
      };
    }),
  );
  const up = rec.hosts.every((h) => pidInNetns(h.initPid, h.netns));
  if (!rec.s3) return { up, lab: labOf(rec), hosts };
  const ip = rec.hosts.find((h) => h.name === rec.s3!.host)?.ip ?? '';
  const running = up && s3Running(rec).includes(rec.s3.pid) && (await tcpAnswers(ip, rec.s3.port, 1000));
  return { up, lab: labOf(rec), hosts, s3: { running } };
}

/** A server started as the unit's postmaster link keeps that name, and its backends with it. */
function postmasterNames(rec: LabRecord, host: string): string[] {
  const flavour = systemdFlavourOf(rec.layout, host);
  return flavour ? ['postgres', flavour.postmaster] : ['postgres'];
}
