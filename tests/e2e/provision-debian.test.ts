import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { connectClient, failureMessage, startProvision, type ProvisionResult } from '../../src/client';
import { labDown, labExec, labSpec, labUp, type Lab } from '../../src/lab';
import { specSchema, type Spec } from '../../src/spec/schema';
import { ClusterChecks } from './cluster-checks';
import { guardedTeardown, TestTemporal, WorkerProcess } from './harness';
import { activityRuns } from './history';

const LONG = { timeout: 15 * 60_000 };

describe('provision on the Debian layout', { timeout: 40 * 60_000 }, () => {
  const temporal = new TestTemporal();
  const stateDir = mkdtempSync(join(tmpdir(), 'stanzactl-lab-'));
  let lab: Lab;
  let spec: Spec;
  let client: Client;
  let worker: WorkerProcess;
  let checks: ClusterChecks;
  let workerEnv: Record<string, string>;

  before(async () => {
    await temporal.start();
    lab = await labUp({ layout: 'debian', prefix: 'stzd', subnet: '10.231.21.0/24', stateDir });
    spec = specSchema.parse(labSpec(lab));
    checks = new ClusterChecks(lab, spec);
    client = await connectClient(temporal.address);
    workerEnv = { TEMPORAL_ADDRESS: temporal.address, STANZACTL_REPLICATION_PASSWORD: randomBytes(12).toString('base64url') };
    worker = new WorkerProcess(workerEnv);
    await worker.start();
  });

  const teardown = guardedTeardown(async () => {
    await worker?.kill();
    await client?.connection.close();
    await labDown({ stateDir });
    await temporal.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  after(teardown);

  test('a host key missing from knownHostsFile fails before anything changes', LONG, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stanzactl-kh-'));
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, readFileSync(spec.ssh.knownHostsFile, 'utf8').split('\n').filter((l) => !l.startsWith('pg2-srv,')).join('\n'));
    const handle = await startProvision(client, { ...spec, ssh: { ...spec.ssh, knownHostsFile: knownHosts } });
    const err = await handle.result().then(() => undefined, (e: unknown) => e);
    rmSync(dir, { recursive: true });
    assert.ok(err instanceof WorkflowFailedError, `expected a failed workflow, got ${err}`);
    const message = failureMessage(err);
    assert.match(message, /pg2-srv/);
    assert.match(message, /known_hosts/);
    // Nothing changed: no repository user, no cluster.
    assert.notEqual((await labExec(lab, 'backup-srv', ['getent', 'passwd', spec.repository.user])).code, 0);
    assert.equal((await labExec(lab, 'pg1-srv', ['pg_lsclusters', '-h'])).stdout.trim(), '');
  });

  test('provision survives a worker SIGKILLed during the full backup', LONG, async () => {
    const handle = await startProvision(client, spec);
    // Kill as soon as the backup runs detached on the repository host: the activity polls it once
    // a second, so it is mid-flight then even for the small backup of a new cluster.
    let closed = false;
    handle.result().finally(() => (closed = true)).catch(() => undefined);
    while (!(await labExec(lab, 'backup-srv', ['ls', '/var/lib/stanzactl/runs'])).stdout.includes('ensureFullBackup')) {
      assert.ok(!closed, `provision ended before the full backup could be interrupted: ${JSON.stringify(await handle.result().catch(failureMessage))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await worker.kill('SIGKILL');
    worker = new WorkerProcess(workerEnv);
    await worker.start();
    const result = (await handle.result()) as ProvisionResult;
    assert.equal(result.changed, true);
    assert.deepEqual(result.standbys.map((s) => [s.name, s.state]), [['pg2-srv', 'streaming'], ['pg3-srv', 'streaming']]);

    const history = await handle.fetchHistory();
    const runs = activityRuns(history);
    const retried = runs.filter((r) => r.attempt !== 1);
    assert.deepEqual(retried.map((r) => r.type), ['ensureFullBackup'], 'only the interrupted activity ran twice');
    assert.ok(runs.every((r) => r.completed));
    assert.equal(runs.filter((r) => r.type === 'ensureFullBackup').length, 1);
    assert.match(result.steps.find((s) => s.name === 'full backup')!.detail!, /re-attached/);
    assert.equal((await checks.fullBackups()).length, 1, 'exactly one full backup');
    const backupLog = await checks.sh('backup-srv', ['cat', `/var/log/pgbackrest/${spec.stanza}-backup.log`]);
    assert.equal(backupLog.match(/backup command begin/g)?.length, 1, 'pgBackRest started one backup');

    if (process.env.STANZACTL_RECORD_HISTORY) {
      writeFileSync(process.env.STANZACTL_RECORD_HISTORY, historyToJSON(history));
    }
  });

  test('the cluster works, checked without stanzactl', LONG, async () => {
    assert.deepEqual(await checks.streamingStandbys(), ['pg2-srv', 'pg3-srv']);
    assert.equal((await checks.fullBackups()).length, 1);
    await checks.pgbackrest('check');
    await checks.rowReplicates();
    assert.equal(await checks.psql('pg1-srv', 'SHOW data_checksums'), 'on');
  });

  test('provision again changes nothing and says so', LONG, async () => {
    const before = await checks.snapshot();
    const result = (await (await startProvision(client, spec)).result()) as ProvisionResult;
    assert.equal(result.changed, false, JSON.stringify(result.steps.filter((s) => s.changed)));
    assert.deepEqual(await checks.snapshot(), before);
  });
});
