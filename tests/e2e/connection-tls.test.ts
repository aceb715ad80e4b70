import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { projectRoot } from '../../src/paths';
import { waitForPort } from '../../src/server';
import { buildWorkflowBundle, freePort, guardedTeardown, runCli, TestTemporal, WorkerProcess } from './harness';

/**
 * mTLS as a production Temporal has it: the dev server on loopback behind HAProxy, which
 * terminates TLS, offers ALPN h2 (gRPC needs it; stunnel cannot, and the SDK's native client
 * refuses a TLS endpoint without it) and requires a client certificate signed by the test's CA.
 */
const dir = mkdtempSync(join(tmpdir(), 'stanzactl-tls-'));
const path = (name: string) => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=stanzactl test ${name}`,
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

function makeCert(name: string, ca: string, extensions: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  writeFileSync(path(`${name}.ext`), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n${extensions}\n`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
}

interface Frontend {
  readonly name: string;
  readonly listen: string;
  /** Server certificate and key, concatenated. */
  readonly bundle: string;
  /** The CA a client certificate must be signed by. */
  readonly ca: string;
}

function haproxyConfig(frontends: Frontend[], backend: string): string {
  return `global
  log stderr format raw local0 info
defaults
  mode tcp
  log global
  option tcplog
  timeout connect 5s
  timeout client 1h
  timeout server 1h
${frontends.map((f) => `frontend ${f.name}
  bind ${f.listen} ssl crt ${f.bundle} ca-file ${f.ca} verify required alpn h2
  default_backend temporal
`).join('')}backend temporal
  server dev ${backend}
`;
}

/** Hosts on loopback ports where nothing listens: the status workflow reads them as down and completes. */
function specFile(sshPort: number): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path('id_ed25519')]);
  writeFileSync(path('known_hosts'), '');
  const spec = {
    stanza: 'tls',
    ssh: { user: 'root', privateKeyFile: path('id_ed25519'), knownHostsFile: path('known_hosts'), port: sshPort },
    repository: { host: '127.0.0.1', user: 'pgbackrest', path: '/backup_space', retentionFull: 2, options: {} },
    postgres: { version: 15, osUser: 'postgres', port: 5432, dataDir: '/var/lib/postgresql/15/main', binDir: '/usr/lib/postgresql/15/bin', configDir: '/etc/postgresql/15/main', control: { type: 'pg_ctlcluster', cluster: 'main' } },
    nodes: [{ name: 'pg1', host: '127.0.0.1', role: 'primary' }, { name: 'pg2', host: '127.0.0.1', role: 'standby' }],
    replication: { user: 'replic_user', password: { env: 'STANZACTL_SECRET_REPLICATION_PASSWORD' } },
    backups: { fromStandby: false },
  };
  writeFileSync(path('spec.json'), JSON.stringify(spec));
  return path('spec.json');
}

describe('worker and CLI against Temporal over TLS with client certificates', { timeout: 5 * 60_000 }, () => {
  const temporal = new TestTemporal();
  let proxy: ChildProcess | undefined;
  let proxyLog = '';
  let worker: WorkerProcess | undefined;
  let tlsAddress = '';
  // The frontend with the certificates scripts/make-certs.sh makes (the compose deployment's).
  let madeAddress = '';
  const made = (name: string) => path(join('made', name));
  let spec = '';
  let bundle = '';
  const teardown = guardedTeardown(async () => {
    await worker?.kill('SIGTERM');
    if (proxy && proxy.exitCode === null && proxy.signalCode === null) {
      const exited = new Promise((r) => proxy!.once('exit', r));
      proxy.kill('SIGTERM');
      await exited;
    }
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // No profile file of the machine's user may leak in, nor settings from the shell running the tests.
  const base = { HOME: dir, XDG_CONFIG_HOME: path('no-config'), TEMPORAL_CONFIG_FILE: '', TEMPORAL_PROFILE: '', TEMPORAL_NAMESPACE: 'default', TEMPORAL_API_KEY: '' };
  const good = () => ({ ...base, TEMPORAL_ADDRESS: tlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: path('ca.pem'), TEMPORAL_TLS_CLIENT_CERT_PATH: path('client.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: path('client.key') });

  before(async () => {
    makeCa('ca');
    makeCa('wrong-ca');
    makeCert('server', 'ca', 'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1');
    makeCert('client', 'ca', 'extendedKeyUsage=clientAuth');
    makeCert('stranger', 'wrong-ca', 'extendedKeyUsage=clientAuth');
    execFileSync('sh', ['-c', 'cat server.pem server.key > server-bundle.pem'], { cwd: dir });
    spec = specFile(await freePort());
    bundle = await buildWorkflowBundle(dir);

    await temporal.start();
    tlsAddress = `127.0.0.1:${await freePort()}`;
    madeAddress = `127.0.0.1:${await freePort()}`;
    execFileSync('bash', [join(projectRoot(), 'scripts', 'make-certs.sh'), '--dir', path('made')], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('sh', ['-c', 'cat made/server.pem made/server.key > made-bundle.pem'], { cwd: dir });
    writeFileSync(path('haproxy.cfg'), haproxyConfig([
      { name: 'temporal_tls', listen: tlsAddress, bundle: path('server-bundle.pem'), ca: path('ca.pem') },
      { name: 'temporal_made', listen: madeAddress, bundle: path('made-bundle.pem'), ca: made('ca.pem') },
    ], temporal.address));
    proxy = spawn('haproxy', ['-db', '-f', path('haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
    proxy.stdout?.on('data', (d) => (proxyLog += d));
    proxy.stderr?.on('data', (d) => (proxyLog += d));
    await waitForPort(tlsAddress, 15_000);
    await waitForPort(madeAddress, 15_000);
  });
  after(async () => {
    await teardown();
  });

  test('the worker polls over mTLS by TEMPORAL_TLS_* and a status workflow started by the CLI completes', async () => {
    worker = new WorkerProcess({ ...good(), STANZACTL_WORKFLOW_BUNDLE: bundle });
    await worker.start();
    assert.match(worker.output, new RegExp(`polling task queue stanzactl at ${tlsAddress}, namespace default; TLS \\(CA ${path('ca.pem')}, client certificate ${path('client.pem')}\\)`));
    assert.doesNotMatch(worker.output, /client\.key|PRIVATE KEY/, 'the key is never shown');

    const r = await runCli(['status', '--spec', spec, '--json'], good());
    // Exit 1: the hosts are down, which the completed workflow reports; a connection failure prints no report.
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.stanza, 'tls');
    assert.match(report.repository.error, /127\.0\.0\.1/, 'the worker ran the status activities');
    assert.equal(report.standbys[0].state, 'down');
    assert.match(proxyLog, /temporal_tls~ temporal\/dev/, 'HAProxy passed TLS connections to the server');
  });

  test('the CLI by a TOML profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE)', async () => {
    writeFileSync(path('temporal.toml'), `[profile.prod]
address = "${tlsAddress}"
namespace = "default"

[profile.prod.tls]
server_ca_cert_path = "${path('ca.pem')}"
client_cert_path = "${path('client.pem')}"
client_key_path = "${path('client.key')}"
server_name = "localhost"
`);
    const r = await runCli(['status', '--spec', spec, '--json'], { ...base, TEMPORAL_ADDRESS: '', TEMPORAL_CONFIG_FILE: path('temporal.toml'), TEMPORAL_PROFILE: 'prod' });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).stanza, 'tls');
  });

  /** The CLI and a fresh worker both fail at once with `message`, naming the TLS address. */
  async function bothRefused(env: Record<string, string>, message: RegExp): Promise<void> {
    const r = await runCli(['status', '--spec', spec], env);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^stanzactl: cannot reach Temporal at ${tlsAddress}, namespace default; TLS \\(`));
    assert.match(r.stderr, message);
    const refused = new WorkerProcess({ ...env, STANZACTL_WORKFLOW_BUNDLE: bundle });
    try {
      await assert.rejects(refused.start(), (e: Error) => {
        assert.match(e.message, /worker exited early/);
        assert.match(e.message, new RegExp(`cannot reach Temporal at ${tlsAddress}`));
        assert.match(e.message, message);
        return true;
      });
    } finally {
      await refused.kill();
    }
  }

  test('a wrong CA: the server certificate is not signed by it', async () => {
    await bothRefused({ ...good(), TEMPORAL_TLS_SERVER_CA_CERT_PATH: path('wrong-ca.pem') },
      new RegExp(`the server's certificate is not signed by the CA in ${path('wrong-ca.pem')} \\(TEMPORAL_TLS_SERVER_CA_CERT_PATH\\)`));
  });

  test('no client certificate: the server requires one', async () => {
    const env: Record<string, string> = { ...good(), TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '' };
    await bothRefused(env, /requires a client certificate and none is set: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/);
  });

  test('a client certificate of another CA: the server rejects it', async () => {
    await bothRefused({ ...good(), TEMPORAL_TLS_CLIENT_CERT_PATH: path('stranger.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: path('stranger.key') },
      new RegExp(`rejected this client's certificate ${path('stranger.pem')}: it is not signed by a CA the server trusts`));
  });

  test('the certificates scripts/make-certs.sh makes: the worker (worker.pem) and the CLI (cli.pem) connect; no certificate, or one of another CA, is refused', async () => {
    const madeEnv = (cert: string) => ({
      ...base, TEMPORAL_ADDRESS: madeAddress, TEMPORAL_TLS_SERVER_NAME: 'temporal',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: made('ca.pem'), TEMPORAL_TLS_CLIENT_CERT_PATH: made(`${cert}.pem`), TEMPORAL_TLS_CLIENT_KEY_PATH: made(`${cert}.key`),
    });
    const second = new WorkerProcess({ ...madeEnv('worker'), STANZACTL_WORKFLOW_BUNDLE: bundle });
    try {
      await second.start();
      assert.match(second.output, new RegExp(`polling task queue stanzactl at ${madeAddress}, namespace default; TLS \\(CA ${made('ca.pem')}, client certificate ${made('worker.pem')}, server name temporal\\)`));
    } finally {
      await second.kill('SIGTERM');
    }
    const r = await runCli(['status', '--spec', spec, '--json'], madeEnv('cli'));
    assert.equal(r.code, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).stanza, 'tls', 'the status workflow completed');

    const refused = async (env: Record<string, string>, message: RegExp) => {
      const x = await runCli(['status', '--spec', spec], env);
      assert.equal(x.code, 1);
      assert.equal(x.stdout, '');
      assert.match(x.stderr, new RegExp(`^stanzactl: cannot reach Temporal at ${madeAddress}`));
      assert.match(x.stderr, message);
    };
    await refused({ ...madeEnv('cli'), TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '' }, /requires a client certificate and none is set/);
    await refused({ ...madeEnv('cli'), TEMPORAL_TLS_CLIENT_CERT_PATH: path('client.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: path('client.key') },
      /rejected this client's certificate .*client\.pem: it is not signed by a CA the server trusts/);
    assert.match(proxyLog, /temporal_made~ temporal\/dev/, 'HAProxy passed connections of the made certificates to the server');
  });

  test('plaintext to the TLS port: told to turn TLS on', async () => {
    const r = await runCli(['status', '--spec', spec], { ...base, TEMPORAL_ADDRESS: tlsAddress });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot reach Temporal at ${tlsAddress}, namespace default; plaintext: it closed the connection: if it expects TLS, set TEMPORAL_TLS=true`));
  });
});
