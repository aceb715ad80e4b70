import { parseArgs } from 'node:util';
import { follow, startProvision, type ProvisionResult } from './client';
import { backupCommand } from './commands/backup';
import { drillCommand } from './commands/drill';
import { rebuildCommand } from './commands/rebuild';
import { restoreCommand } from './commands/restore';
import { recoverCommand } from './commands/recover';
import { switchoverCommand } from './commands/switchover';
import { failoverCommand } from './commands/failover';
import { scheduleCommand } from './commands/schedule';
import { statusCommand } from './commands/status';
import { specArg, UsageError, withClient, type CliCommand } from './commands/command';
import { startDevServer } from './server';
import { loadSpec } from './spec/load';
import { SpecError } from './spec/errors';
import { runWorker } from './worker';

function printProvisionSummary(r: ProvisionResult, print: (s: string) => void): void {
  print('');
  print(`stanza ${r.stanza}: ${r.changed ? 'provisioned' : 'already provisioned, nothing changed'}`);
  print(`  pgBackRest ${r.pgbackrestVersion}; ${r.postgresVersion}`);
  print(`  full backup ${r.backup.label}: database ${r.backup.databaseSize} bytes, repository ${r.backup.repoSize} bytes`);
  for (const s of r.standbys) print(`  standby ${s.name}: ${s.state}, replay lag ${s.replayLagBytes ?? '?'} bytes`);
}

const provision: CliCommand = {
  usage: 'provision --spec FILE',
  summary: 'provision the cluster a spec describes (or attach to the run in progress of the same spec)',
  help: `Usage: stanzactl provision --spec FILE

Starts workflow provision-<stanza>@<repo> on the Temporal server (or attaches to the one running when it
was started with the same spec; a run of another spec is refused, naming it and the fields that differ), prints
each step as it starts and ends, and the summary. Exit 0 on success; non-zero with the failure's
message otherwise. Needs a running worker ("stanzactl worker").`,
  async run(args) {
    const spec = loadSpec(specArg(args));
    return withClient('provision', async (client, target) => {
      const handle = await startProvision(client, spec);
      console.log(`workflow ${handle.workflowId} on ${target.address} (namespace ${target.namespace})`);
      printProvisionSummary(await follow<ProvisionResult>(handle, (l) => console.log(l)), (l) => console.log(l));
      return 0;
    });
  },
};

const validate: CliCommand = {
  usage: 'validate --spec FILE',
  summary: 'check a spec file and print what is wrong with it',
  help: `Usage: stanzactl validate --spec FILE

Validates a spec (YAML, or JSON for .json files). Prints each bad field with its path. Connects to nothing.`,
  async run(args) {
    loadSpec(specArg(args));
    console.log('spec is valid');
    return 0;
  },
};

const worker: CliCommand = {
  usage: 'worker [--metrics-address HOST:PORT]',
  summary: 'run a worker on task queue "stanzactl"',
  help: `Usage: stanzactl worker [--metrics-address HOST:PORT]

Runs a worker for task queue "stanzactl" until SIGINT/SIGTERM, connected to the Temporal server
that Temporal's environment configuration names (see "stanzactl --help"); its first line says which
server, namespace and TLS settings (never a key). Secrets named by specs ({env: NAME} or
{file: PATH}) are resolved in this process.
--metrics-address (default STANZACTL_METRICS_ADDRESS; off when neither is set) serves Prometheus
metrics at http://HOST:PORT/metrics: stanzactl's gauges of each cluster (labels stanza and
repository) and the Temporal SDK's runtime metrics.`,
  async run(args) {
    const { values } = parseArgs({ args, options: { 'metrics-address': { type: 'string' } }, strict: true });
    await runWorker({ metricsAddress: values['metrics-address'] });
    return 0;
  },
};

const server: CliCommand = {
  usage: 'server',
  summary: 'run the embedded Temporal dev server on a SQLite file (with its UI)',
  help: `Usage: stanzactl server [--db FILE] [--port 7233] [--ui-port 8233] [--headless]

Runs "temporal server start-dev" from the project's venv on a SQLite file (default STATE/temporal.db),
so workflows survive a server restart. The file is in WAL mode (temporal.db-wal and -shm beside it,
kept after a stop: copy the three together, server stopped), and the Schedules run with 16 pollers: 50
firing at once started within a second (docs/deployment-and-security.md, "Temporal versions").`,
  async run(args) {
    const { values } = parseArgs({ args, options: { db: { type: 'string' }, port: { type: 'string' }, 'ui-port': { type: 'string' }, headless: { type: 'boolean' } }, strict: true });
    const s = startDevServer({
      dbFile: values.db,
      port: values.port ? Number(values.port) : undefined,
      uiPort: values['ui-port'] ? Number(values['ui-port']) : undefined,
      headless: values.headless,
    });
    console.log(`Temporal dev server at ${s.address}${s.uiUrl ? `, UI at ${s.uiUrl}` : ''}, database ${s.dbFile}`);
    const stop = () => s.child.kill('SIGTERM');
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return new Promise((res) => s.child.on('exit', (code) => res(code ?? 0)));
  },
};

const COMMANDS: Record<string, CliCommand> = { provision, backup: backupCommand, rebuild: rebuildCommand, drill: drillCommand, restore: restoreCommand, recover: recoverCommand, switchover: switchoverCommand, failover: failoverCommand, schedule: scheduleCommand, status: statusCommand, validate, worker, server };

const USAGE = `stanzactl: durable automation of pgBackRest and PostgreSQL streaming replication on Temporal

Usage: stanzactl <command> [options]

Commands:
${Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(42)} ${c.summary}`).join('\n')}

Temporal connection (worker and every command), read as the temporal CLI reads it:
  TEMPORAL_ADDRESS (default 127.0.0.1:7233, where "stanzactl server" listens), TEMPORAL_NAMESPACE
  (default default), TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_SERVER_CA_CERT_PATH|_DATA,
  TEMPORAL_TLS_CLIENT_CERT_PATH|_DATA, TEMPORAL_TLS_CLIENT_KEY_PATH|_DATA, TEMPORAL_TLS_SERVER_NAME,
  TEMPORAL_GRPC_META_*, and TEMPORAL_PROFILE in TEMPORAL_CONFIG_FILE (default
  ~/.config/temporalio/temporal.toml); variables override the profile's fields.
Other: STANZACTL_STATE (state directory, default .state in the checkout), TEMPORAL_CLI (temporal binary).
Run "stanzactl <command> --help" for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    // The lab hosts left this command for the checkout's dev tooling (dev/cli.ts); say where.
    const moved = name === 'lab' ? ': the lab is dev tooling; in a checkout, run "node dist/dev/cli.js lab ..." instead' : '';
    console.error(`stanzactl: unknown command "${name}"${moved}\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof SpecError) {
      console.error(e.message);
      return 2;
    }
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`stanzactl ${name}: ${(e as Error).message}\n\n${command.help}`);
      return 2;
    }
    throw e;
  }
}
