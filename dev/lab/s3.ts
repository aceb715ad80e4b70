import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { projectRoot } from '../../src/paths';
import { firstChild, SANE_PATH, spawnDetached, tcpAnswers } from './host';
import { pidInNetns } from './network';
import { labPaths } from './paths';
import { mustRun, sleep, waitFor } from './proc';
import { readRecord, writeRecord } from './record';
import type { LabRecord, S3Record } from './record';
import { S3_CA_FILE, S3_ENDPOINT, S3_HOST } from './types';
import type { Lab } from './types';

/** Not S3's 443: a client must be told the port, as pgBackRest's repoN-storage-port does. */
const S3_PORT = 9443;
const S3_BUCKET = 'stanzactl';
const S3_REGION = 'us-east-1';
// versitygw finishes open requests for up to 10 s after SIGTERM (its graceful shutdown).
const STOP_GRACE_MS = 15000;

/** Where scripts/setup.sh builds versitygw. */
function versitygw(): string {
  const bin = path.join(projectRoot(), '.tools', 'bin', 'versitygw');
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/setup.sh`);
  return bin;
}

/**
 * The server's files in `dir`: a private CA (its key deleted once it signed: nothing else is ever
 * signed), a certificate naming S3_ENDPOINT, the bucket's directory; and keys made for this lab.
 * Returns the record to keep and the CA certificate every host gets.
 */
export async function makeS3(dir: string): Promise<{ s3: S3Record; caPem: string }> {
  // Refused before anything is made when scripts/setup.sh has not built it.
  versitygw();
  fs.mkdirSync(path.join(dir, 'data', S3_BUCKET), { recursive: true, mode: 0o700 });
  const file = (name: string) => path.join(dir, name);
  // -config /dev/null: the machine's openssl.cnf adds no extension of its own.
  const newCert = (args: string[]) => mustRun('openssl', ['req', '-config', '/dev/null', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', ...args]);
  await newCert(['-keyout', file('ca.key'), '-out', file('ca.pem'), '-subj', '/CN=stanzactl lab S3 CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await newCert(['-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-keyout', file('server.key'), '-out', file('server.pem'), '-subj', `/CN=${S3_ENDPOINT}`,
    '-addext', `subjectAltName=DNS:${S3_ENDPOINT}`, '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth']);
  fs.rmSync(file('ca.key'));
  return {
    s3: {
      host: S3_HOST,
      endpoint: S3_ENDPOINT,
      port: S3_PORT,
      bucket: S3_BUCKET,
      region: S3_REGION,
      // AWS's shapes: 20 upper-case characters, and 40 of base64 ('+' and '/' included, which clients must quote right).
      accessKey: randomBytes(10).toString('hex').toUpperCase(),
      secretKey: randomBytes(30).toString('base64'),
      caFile: S3_CA_FILE,
      pid: 0,
      launcherPid: 0,
    },
    caPem: fs.readFileSync(file('ca.pem'), 'utf8').trim(),
  };
}

function s3Host(rec: LabRecord): LabRecord['hosts'][number] {
  const host = rec.hosts.find((h) => h.name === S3_HOST);
  if (!rec.s3 || !host) throw new Error(`the lab in ${rec.stateDir} has no S3 server (bring it up with s3: true)`);
  return host;
}

/** The server's pids that still run in its host (nsenter, outside the host's PID namespace, included). */
export function s3Running(rec: LabRecord): number[] {
  const host = s3Host(rec);
  return [rec.s3!.pid, rec.s3!.launcherPid].filter((pid) => pidInNetns(pid, host.netns));
}

/**
 * Starts versitygw in the S3 host's network, UTS, IPC and PID namespaces: it dies with the host.
 * Not in its mount namespace: the binary (the checkout's .tools) and the server's files (the
 * state dir) may be under /tmp, /root or /home, which every host mounts afresh. The keys go in
 * its environment, not on its command line, which any user of the machine can read.
 */
export async function startS3Server(rec: LabRecord, save: () => void): Promise<void> {
  const host = s3Host(rec);
  const s3 = rec.s3!;
  const dir = labPaths(rec.stateDir).s3;
  const file = (name: string) => path.join(dir, name);
  // Absolute paths: versitygw changes into its data directory first.
  const argv = ['nsenter', '-t', String(host.initPid), '-n', '-u', '-i', '-p', '--',
    versitygw(), '--port', `${host.ip}:${s3.port}`, '--cert', file('server.pem'), '--key', file('server.key'), '--region', s3.region, '--quiet', 'posix', file('data')];
  const env = { PATH: SANE_PATH, ROOT_ACCESS_KEY_ID: s3.accessKey, ROOT_SECRET_ACCESS_KEY: s3.secretKey };
  const launcher = spawnDetached(`${S3_HOST}: versitygw`, argv, env, file('versitygw.log'));
  s3.launcherPid = launcher.pid;
  save();
  s3.pid = await launcher.waitFor('versitygw to start', 15000, () => firstChild(launcher.pid), 10);
  save();
  await launcher.waitFor(`versitygw on ${host.ip}:${s3.port}; see ${launcher.logFile}`, 15000, async () => ((await tcpAnswers(host.ip, s3.port, 500)) ? true : undefined), 50);
}

/** SIGTERM, and SIGKILL past its graceful shutdown; signalled only while in the S3 host's netns. */
async function stopS3Server(rec: LabRecord): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    if (s3Running(rec).includes(rec.s3!.pid)) process.kill(rec.s3!.pid, sig);
  };
  signal('SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  while (s3Running(rec).length > 0 && Date.now() < deadline) await sleep(50);
  signal('SIGKILL');
  await waitFor('versitygw to exit', 5000, () => (s3Running(rec).length === 0 ? true : undefined));
}

function labRecord(lab: Lab): LabRecord {
  const rec = readRecord(labPaths(lab.stateDir).record);
  if (!rec) throw new Error(`no lab is up in ${lab.stateDir}`);
  return rec;
}

/** Stops the lab's S3 server: connections to it are refused until labStartS3. */
export async function labStopS3(lab: Lab): Promise<void> {
  const rec = labRecord(lab);
  await stopS3Server(rec);
  rec.s3!.pid = rec.s3!.launcherPid = 0;
  writeRecord(labPaths(lab.stateDir).record, rec);
}

/** Starts the lab's S3 server again, unless it runs: same data, keys and certificate. */
export async function labStartS3(lab: Lab): Promise<void> {
  const rec = labRecord(lab);
  if (s3Running(rec).includes(rec.s3!.pid)) return;
  await startS3Server(rec, () => writeRecord(labPaths(lab.stateDir).record, rec));
}
