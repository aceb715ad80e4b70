import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
      for (const p of s.ports ?? []) assert.match(String(p), /^127\.0\.0\.1:/, `${p}: plaintext and unauthenticated, so loopback only`);
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
    ]);
    const source = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    for (const secret of Object.values(operatorEnv)) assert.ok(!source.includes(secret));
    assert.doesNotMatch(source, /(PASSWORD|PWD|API_KEY|KEY_DATA):\s+[^$\s{]/, 'every secret is ${...} from the environment');
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
    assert.match(dockerfile, /^ENTRYPOINT \["node", "bin\/stanzactl\.js"\]$/m);
  });

  test('hadolint is a real linter: it flags an image by latest and an unpinned apt package', () => {
    const hadolint = join(root, '.venv', 'bin', 'hadolint');
    const r = spawnSync(hadolint, ['--no-color', '-'], { input: 'FROM node:latest\nRUN apt-get install curl\n', encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /DL3007/, 'latest tag');
    assert.match(r.stdout, /DL3008|DL3015/, 'unpinned apt package');
  });
});
