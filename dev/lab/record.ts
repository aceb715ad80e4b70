import * as fs from 'fs';
import type { Lab, LabHost, LabLayout, LabS3 } from './types';

/** What a lab created, kept in <state>/lab/lab.json so another process can inspect or remove it. */
export interface LabRecord {
  version: 1;
  stateDir: string;
  prefix: string;
  subnet: string;
  layout: LabLayout;
  bridge: string;
  privateKeyFile: string;
  knownHostsFile: string;
  /** initPid/launcherPid are 0 until the host has been started. */
  hosts: (LabHost & { veth: string; launcherPid: number })[];
  s3?: S3Record;
}

/** pid: versitygw; launcherPid: the nsenter that started it. 0 while it is stopped. */
export type S3Record = LabS3 & { pid: number; launcherPid: number };

export function readRecord(file: string): LabRecord | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const rec = JSON.parse(text) as LabRecord;
  if (rec.version !== 1) throw new Error(`${file}: unknown lab record version ${String(rec.version)}`);
  return rec;
}

/** Written via rename so a reader never sees half a file. */
export function writeRecord(file: string, rec: LabRecord): void {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(rec, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

export function labOf(rec: LabRecord): Lab {
  return {
    stateDir: rec.stateDir,
    prefix: rec.prefix,
    subnet: rec.subnet,
    layout: rec.layout,
    hosts: rec.hosts.map(({ name, ip, netns, initPid }) => ({ name, ip, netns, initPid })),
    privateKeyFile: rec.privateKeyFile,
    knownHostsFile: rec.knownHostsFile,
    ...(rec.s3 ? { s3: labS3Of(rec.s3) } : {}),
  };
}

function labS3Of({ pid, launcherPid, ...s3 }: S3Record): LabS3 {
  return s3;
}
