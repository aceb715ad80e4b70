import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { labExec, labStartS3, labStatus, labStopS3, labUp, REPOSITORY_HOST } from '../../dev/lab';
import type { LabS3 } from '../../dev/lab';
import { labPaths } from '../../dev/lab/paths';
import { processLive } from '../../dev/lab/proc';
import { readRecord } from '../../dev/lab/record';
import { downLeavesNothing, hostIp, inHost, labFixture } from './lab-checks';
import { slotted } from './lab-slot';

const { prefix: PREFIX, subnet: SUBNET } = slotted('stzo', '10.231.11.0/24');
const REPO_USER = 'pgbackrest';
const notRoot = process.getuid?.() !== 0 && 'the lab needs root';

/** pgBackRest takes S3 keys from a file or its environment only, never its command line. */
function pgbackrestConf(s3: LabS3): string {
  return `[global]
repo1-type=s3
repo1-path=/repo
repo1-s3-bucket=${s3.bucket}
repo1-s3-endpoint=${s3.endpoint}
repo1-s3-region=${s3.region}
repo1-s3-key=${s3.accessKey}
repo1-s3-key-secret=${s3.secretKey}
repo1-s3-uri-style=path
repo1-storage-port=${s3.port}
repo1-storage-ca-file=${s3.caFile}
log-level-file=off
`;
}

describe('lab with S3', { skip: notRoot }, () => {
  const fx = labFixture('debian', PREFIX, SUBNET, { s3: true });
  const s3 = () => fx.lab.s3!;
  const url = (key: string) => `https://${s3().endpoint}:${s3().port}/${s3().bucket}/repo/${key}`;
  // Everything on the repository host as its user; the keys reach curl through its stdin.
  const asRepoUser = (script: string, ...args: string[]) => labExec(fx.lab, REPOSITORY_HOST, ['bash', '-c', script, 'lab-s3', ...args], { user: REPO_USER });
  const curl = (extra: string, key: string) => labExec(fx.lab, REPOSITORY_HOST,
    ['bash', '-c', `curl -sS --fail-with-body --max-time 5 --aws-sigv4 aws:amz:${s3().region}:s3 -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -K - ${extra} "$1"`, 'curl', url(key)],
    { user: REPO_USER, input: `user = "${s3().accessKey}:${s3().secretKey}"\n` });
  let conf = '';
  // io-timeout bounds pgBackRest's retries: a request that cannot succeed fails after 1 s, not 60.
  const pgbackrest = (...args: string[]) => asRepoUser('pgbackrest --config="$1" "${@:2}"', conf, ...args);
  const object = `probe ${randomBytes(8).toString('hex')}`;

  it('every host resolves the endpoint to the S3 host and has the CA at caFile', async (t) => {
    t.diagnostic(`lab up with S3: ${fx.upMs} ms`);
    assert.deepEqual(Object.keys(s3()).sort(), ['accessKey', 'bucket', 'caFile', 'endpoint', 'host', 'port', 'region', 'secretKey']);
    assert.doesNotMatch(s3().endpoint, /^[\d.]+$/, 'pgBackRest needs a DNS name');
    const ca = fs.readFileSync(`${labPaths(fx.stateDir).s3}/ca.pem`, 'utf8');
    for (const h of fx.lab.hosts) {
      assert.equal((await inHost(fx.lab, h.name, ['getent', 'hosts', s3().endpoint])).split(/\s+/)[0], hostIp(fx.lab, s3().host), h.name);
      assert.equal(await inHost(fx.lab, h.name, ['cat', s3().caFile]), ca, h.name);
    }
    assert.equal((await labStatus({ stateDir: fx.stateDir })).s3?.running, true);
  });

  it('pgBackRest as the repository user reads what was stored over TLS with the CA; without it TLS fails', async () => {
    await inHost(fx.lab, REPOSITORY_HOST, ['useradd', '--system', '--user-group', '--create-home', '--shell', '/bin/bash', REPO_USER]);
    const made = await asRepoUser('umask 077 && d=$(mktemp -d) && cat >"$d/pgbackrest.conf" && printf %s "$d/pgbackrest.conf"');
    assert.equal(made.code, 0, made.stderr);
    conf = made.stdout;
    const written = await labExec(fx.lab, REPOSITORY_HOST, ['bash', '-c', 'cat >"$1"', 'write', conf], { user: REPO_USER, input: pgbackrestConf(s3()) });
    assert.equal(written.code, 0, written.stderr);

    // pgBackRest 2.45 has no repo-put: the object goes in with curl's SigV4.
    const put = await curl(`--cacert ${s3().caFile} -X PUT --data-binary '${object}'`, 'probe/hello.txt');
    assert.equal(put.code, 0, put.stdout + put.stderr);
    const ls = await pgbackrest('repo-ls', '--recurse');
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(ls.stdout.trim().split('\n'), ['probe', 'probe/hello.txt']);
    const got = await pgbackrest('repo-get', 'probe/hello.txt');
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, object);

    // The CA is in no trust store: without it, verification fails.
    const noCa = await pgbackrest('--reset-repo1-storage-ca-file', '--io-timeout=1', 'repo-ls');
    assert.equal(noCa.code, 95, noCa.stdout + noCa.stderr);
    assert.match(noCa.stderr, /unable to verify certificate presented by 's3\.lab\.internal:\d+'/);
    const curlNoCa = await curl('', 'probe/hello.txt');
    assert.equal(curlNoCa.code, 60, curlNoCa.stderr);
  });

  it('stopS3 refuses connections without touching the other hosts; startS3 serves the same object with the same keys and certificate', async (t) => {
    const before = readRecord(labPaths(fx.stateDir).record)!.s3!;
    let t0 = Date.now();
    await labStopS3(fx.lab);
    t.diagnostic(`stopS3: ${Date.now() - t0} ms`);
    for (const pid of [before.pid, before.launcherPid]) assert.ok(!processLive(pid), `S3 server process ${pid} still runs`);
    const down = await pgbackrest('--io-timeout=1', 'repo-get', 'probe/hello.txt');
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, /Connection refused/);
    assert.equal((await curl(`--cacert ${s3().caFile}`, 'probe/hello.txt')).code, 7, 'curl: connection refused');
    const st = await labStatus({ stateDir: fx.stateDir });
    assert.equal(st.s3?.running, false);
    assert.ok(st.up && st.hosts.every((h) => h.sshd), 'a host went down with the S3 server');

    t0 = Date.now();
    await labStartS3(fx.lab);
    t.diagnostic(`startS3: ${Date.now() - t0} ms`);
    const got = await pgbackrest('repo-get', 'probe/hello.txt');
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, object);
    const after = readRecord(labPaths(fx.stateDir).record)!.s3!;
    assert.notEqual(after.pid, before.pid);
    await labStartS3(fx.lab);
    assert.equal(readRecord(labPaths(fx.stateDir).record)!.s3!.pid, after.pid, 'startS3 of a running server starts another');
    await assert.rejects(labUp({ stateDir: fx.stateDir, s3: false }), /already up .* s3 true/);

    // labUp of the lab brings a stopped server back and rebuilds nothing.
    await labStopS3(fx.lab);
    assert.deepEqual(await labUp({ stateDir: fx.stateDir, s3: true }), fx.lab);
    assert.equal((await labStatus({ stateDir: fx.stateDir })).s3?.running, true);
    assert.equal((await pgbackrest('repo-get', 'probe/hello.txt')).stdout, object);
  });

  it('comes down leaving nothing, the S3 server included', async (t) => {
    await downLeavesNothing(fx, PREFIX, (m) => t.diagnostic(m));
  });
});
