import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { projectRoot, temporalCli } from '../../src/paths';

/**
 * No Docker engine runs here: the compose file goes through Debian's docker-compose (1.29, the
 * real Compose parser and schema) and the Dockerfile through hadolint (scripts/setup.sh installs
 * both). What an engine would do with them (pull, build, start) is not tested.
 */
const root = projectRoot();

// Stand-ins for what the operator exports; the values only prove that they are interpolated.
const operatorEnv = {
  TEMPORAL_DB_PASSWORD: 'db-secret-from-env',
  STANZACTL_SECRET_REPLICATION_PASSWORD: 'replication-secret-from-env',
  STANZACTL_SSH_KEY: '/home/dba/.ssh/id_ed25519',
  STANZACTL_KNOWN_HOSTS: '/home/dba/.ssh/known_hosts',
};

function compose(args: string[], env: Record<string, string>) {
  // Only PATH from this process: the test must not depend on what the shell running it exports.
  return spawnSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
}

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  command?: string[];
}

/** Server and UI versions the pinned temporal CLI embeds, which every other test runs against. */
function testedVersions(): { server: string; ui: string } {
  const out = spawnSync(temporalCli(), ['--version'], { encoding: 'utf8' }).stdout;
  const m = /Server ([\d.]+), UI ([\d.]+)/.exec(out);
  assert.ok(m, `temporal --version: ${out}`);
  return { server: m[1], ui: m[2] };
}

describe('docker-compose.yml and Dockerfile, by real parsers (no Docker engine)', () => {
  test('docker-compose accepts the file; without the secrets in the environment it refuses, naming them', () => {
    const ok = compose(['config', '-q'], operatorEnv);
    assert.equal(ok.status, 0, ok.stderr);
    for (const name of Object.keys(operatorEnv)) {
      const r = compose(['config', '-q'], { ...operatorEnv, [name]: '' });
      assert.notEqual(r.status, 0, `${name} unset`);
      assert.match(r.stderr, new RegExp(`set ${name === 'STANZACTL_SECRET_REPLICATION_PASSWORD' ? 'the replication password' : name}`));
    }
  });

  test('services: Temporal on PostgreSQL at the tested versions, pinned images, read-only mounts, secrets only from the environment', () => {
    const r = compose(['config'], operatorEnv);
    assert.equal(r.status, 0, r.stderr);
    const services = (parse(r.stdout) as { services: Record<string, Service> }).services;
    assert.deepEqual(Object.keys(services).sort(), ['postgresql', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui', 'worker']);

    const { server, ui } = testedVersions();
    assert.equal(services.temporal.image, `temporalio/server:${server}`, 'the server image is the version the tests run');
    assert.equal(services['temporal-schema'].image, `temporalio/admin-tools:${server}`);
    assert.equal(services['temporal-namespace'].image, `temporalio/admin-tools:${server}`);
    assert.equal(services['temporal-ui'].image, `temporalio/ui:${ui}`);
    assert.match(services.postgresql.image ?? '', /^postgres:15\.\d+-bookworm$/, 'PostgreSQL 15 as the tests use, minor pinned');
    assert.equal(services.temporal.environment?.DB, 'postgres12', 'SQL persistence, not the dev server');
    assert.equal(services.temporal.environment?.POSTGRES_SEEDS, 'postgresql');
    assert.ok(!JSON.stringify(services).includes('start-dev'), 'no dev server');
    assert.equal(services.temporal.depends_on?.['temporal-schema'].condition, 'service_completed_successfully');
    for (const s of Object.values(services)) {
      if (s.image && !s.build) assert.match(s.image, /:\d+\.\d+(\.\d+)?(-[a-z]+)?$/, `${s.image}: pinned by version tag`);
      for (const p of s.ports ?? []) assert.match(String(p), /^127\.0\.0\.1:/, `${p}: published on loopback only`);
    }

    const worker = services.worker;
    assert.ok(worker.build, 'the worker is built from the repository');
    const env = worker.environment ?? {};
    assert.equal(env.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(env.TEMPORAL_NAMESPACE, 'default');
    assert.equal(env.TEMPORAL_API_KEY, '', 'passed through from the environment, empty = unset');
    assert.equal(env.STANZACTL_SECRET_REPLICATION_PASSWORD, operatorEnv.STANZACTL_SECRET_REPLICATION_PASSWORD);
    assert.equal(services.temporal.environment?.POSTGRES_PWD, operatorEnv.TEMPORAL_DB_PASSWORD);
    assert.deepEqual(worker.volumes, [
      `${operatorEnv.STANZACTL_SSH_KEY}:/etc/stanzactl/ssh/id:ro`,
      `${operatorEnv.STANZACTL_KNOWN_HOSTS}:/etc/stanzactl/ssh/known_hosts:ro`,
      `${join(root, 'specs')}:/specs:ro`,
      ...['ca.pem', 'worker.pem', 'worker.key'].map((f) => `${join(root, 'tls', f)}:/etc/stanzactl/tls/${f}:ro`),
    ]);
    const source = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    for (const secret of Object.values(operatorEnv)) assert.ok(!source.includes(secret));
    assert.doesNotMatch(source, /(PASSWORD|PWD|API_KEY|KEY_DATA):\s+[^$\s{]/, 'every secret is ${...} from the environment');
  });

  test('mTLS: the frontend requires a client certificate of the CA that scripts/make-certs.sh makes; worker and namespace set-up present theirs; the UI is off by default', () => {
    const r = compose(['config'], operatorEnv);
    assert.equal(r.status, 0, r.stderr);
    const services = (parse(r.stdout) as { services: Record<string, Service> }).services;
    const tls = join(root, 'tls');
    /** What a service sees of STANZACTL_TLS_DIR: container path -> file name there, each read-only. */
    const mounted = (s: Service): Record<string, string> => Object.fromEntries((s.volumes ?? []).filter((v) => v.startsWith(`${tls}/`)).map((v) => {
      const [from, to, mode] = v.split(':');
      assert.equal(mode, 'ro', `${v}: read-only`);
      return [to, from.slice(tls.length + 1)];
    }));

    const server = services.temporal.environment ?? {};
    assert.equal(server.TEMPORAL_TLS_REQUIRE_CLIENT_AUTH, 'true', 'a client without a certificate of the CA is refused');
    const serverFiles = mounted(services.temporal);
    for (const v of ['TEMPORAL_TLS_FRONTEND_CERT', 'TEMPORAL_TLS_SERVER_CERT']) assert.equal(serverFiles[server[v]], 'server.pem', v);
    for (const v of ['TEMPORAL_TLS_FRONTEND_KEY', 'TEMPORAL_TLS_SERVER_KEY']) assert.equal(serverFiles[server[v]], 'server.key', v);
    for (const v of ['TEMPORAL_TLS_CLIENT1_CA_CERT', 'TEMPORAL_TLS_CLIENT2_CA_CERT', 'TEMPORAL_TLS_SERVER_CA_CERT']) assert.equal(serverFiles[server[v]], 'ca.pem', v);
    assert.equal(server.TEMPORAL_TLS_FRONTEND_SERVER_NAME, 'temporal');

    const worker = services.worker.environment ?? {};
    const workerFiles = mounted(services.worker);
    assert.equal(worker.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(worker.TEMPORAL_TLS_SERVER_NAME, 'temporal');
    assert.equal(workerFiles[worker.TEMPORAL_TLS_SERVER_CA_CERT_PATH], 'ca.pem');
    assert.equal(workerFiles[worker.TEMPORAL_TLS_CLIENT_CERT_PATH], 'worker.pem');
    assert.equal(workerFiles[worker.TEMPORAL_TLS_CLIENT_KEY_PATH], 'worker.key');

    const namespace = services['temporal-namespace'];
    const nsFiles = mounted(namespace);
    const command = (namespace.command ?? []).join(' ');
    for (const [flag, file] of [['--tls-ca-path', 'ca.pem'], ['--tls-cert-path', 'cli.pem'], ['--tls-key-path', 'cli.key']]) {
      const path = new RegExp(`${flag} (\\S+)`).exec(command)?.[1];
      assert.equal(path && nsFiles[path], file, `${flag} in ${command}`);
    }
    assert.match(command, /--tls-server-name temporal/);
    assert.equal((command.match(/\$\$tls/g) ?? []).length, 2, 'both namespace commands connect with the certificate');

    const ui = services['temporal-ui'];
    assert.deepEqual(ui.profiles, ['ui'], 'the UI starts only with --profile ui');
    const uiFiles = mounted(ui);
    assert.equal(uiFiles[ui.environment?.TEMPORAL_TLS_CERT ?? ''], 'ui.pem');
    assert.equal(uiFiles[ui.environment?.TEMPORAL_TLS_KEY ?? ''], 'ui.key');
    assert.equal(uiFiles[ui.environment?.TEMPORAL_TLS_CA ?? ''], 'ca.pem');
    assert.equal(ui.environment?.TEMPORAL_TLS_ENABLE_HOST_VERIFICATION, 'true');

    // The files compose mounts are the ones the script makes; the CA's key is mounted nowhere.
    const dir = mkdtempSync(join(tmpdir(), 'stanzactl-certs-'));
    try {
      const made = spawnSync('bash', [join(root, 'scripts', 'make-certs.sh'), '--dir', join(dir, 'tls')], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const files = readdirSync(join(dir, 'tls')).sort();
      assert.deepEqual(files, ['ca.key', 'ca.pem', 'cli.key', 'cli.pem', 'server.key', 'server.pem', 'ui.key', 'ui.pem', 'worker.key', 'worker.pem']);
      for (const f of files) assert.equal(statSync(join(dir, 'tls', f)).mode & 0o777, f.endsWith('.key') ? 0o600 : 0o644, f);
      for (const s of Object.values(services)) for (const f of Object.values(mounted(s))) assert.ok(files.includes(f) && f !== 'ca.key', f);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('hadolint passes the Dockerfile; it pins Node, runs npm ci, ships the compiled output and runs as a non-root user', () => {
    const hadolint = join(root, '.venv', 'bin', 'hadolint');
    const r = spawnSync(hadolint, ['--no-color', join(root, 'Dockerfile')], { encoding: 'utf8' });
    assert.equal(r.error, undefined, `${hadolint}: run scripts/setup.sh`);
    assert.equal(r.status, 0, r.stdout + r.stderr);

    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    assert.ok(froms.length > 0);
    for (const image of froms) assert.match(image, new RegExp(`^node:${process.versions.node.split('.')[0]}\\.\\d+\\.\\d+-bookworm-slim$`), `${image}: Node pinned to a release of the major the tests run on`);
    assert.match(dockerfile, /^RUN npm ci\b/m);
    assert.match(dockerfile, /^COPY --from=build \/app\/dist \.\/dist$/m);
    assert.match(dockerfile, /bundleWorkflowCode\(.*'dist\/workflow-bundle\.js'/, 'the workflows bundled at build time');
    assert.match(dockerfile, /^ENV .*STANZACTL_WORKFLOW_BUNDLE=\/app\/dist\/workflow-bundle\.js/m);
    const user = [...dockerfile.matchAll(/^USER (\S+)/gm)].at(-1)?.[1];
    assert.ok(user && !/^(0|root)(:|$)/.test(user), `runs as ${user}`);
    assert.match(dockerfile, /^ENTRYPOINT \["node", "--max-semi-space-size=2", "bin\/stanzactl\.js"\]$/m, 'the main thread\'s young generation bounded as the workflow thread\'s');
  });

  test('hadolint is a real linter: it flags an image by latest and an unpinned apt package', () => {
    const hadolint = join(root, '.venv', 'bin', 'hadolint');
    const r = spawnSync(hadolint, ['--no-color', '-'], { input: 'FROM node:latest\nRUN apt-get install curl\n', encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /DL3007/, 'latest tag');
    assert.match(r.stdout, /DL3008|DL3015/, 'unpinned apt package');
  });
});
