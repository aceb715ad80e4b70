import * as fs from 'fs';
import YAML from 'yaml';
import { DEFAULT_PREFIX, DEFAULT_SUBNET, LAB_LAYOUTS, labDown, labSpec, labStatus, labUp } from './index';
import type { Lab, LabLayout } from './index';
import { LAB_COMMAND, labPaths } from './paths';

const HELP = `usage: ${LAB_COMMAND} <command>

The project's own test hosts on this machine (dev tooling: the stanzactl command has no lab):
backup-srv (repository), pg1-srv, pg2-srv, pg3-srv (the spec's nodes) and drill-srv (a scratch
host for restores and drills: PostgreSQL and pgBackRest installed, no cluster, not a node), each
with its own network namespace, address, sshd, processes and filesystem.

commands:
  up [--layout ${LAB_LAYOUTS.join('|')}] [--prefix P] [--subnet CIDR] [--s3]
                  bring the hosts up (or report the lab already up); writes the key,
                  known_hosts and a stanzactl spec under the state dir
                  (--layout: debian, the default, is Debian's packages; edb an EPAS-like
                  install run with pg_ctl; systemd-epas and systemd-pgdg boot systemd on
                  the PostgreSQL hosts, with the unit edb-as-13 as EDB's packages ship it,
                  or postgresql-15 as PGDG's RHEL packages do, the primary's cluster
                  initialized and started, the others' installed only;
                  --prefix names its links/netns, default ${DEFAULT_PREFIX}; --subnet a
                  private /24, default ${DEFAULT_SUBNET}; --s3 adds the host s3-srv with
                  an S3-compatible server over TLS, versitygw from scripts/setup.sh)
  down            stop the hosts and remove everything the lab created
  status          show whether each host's sshd and PostgreSQL (and the S3 server) run
  spec [--json]   print the spec for the lab (YAML, or JSON)

State dir: $STANZACTL_STATE, else <repo>/.state; the lab lives in <state>/lab/.
`;

class UsageError extends Error {}

/** `node dist/dev/cli.js lab ...`; returns the process exit code. */
export async function labCommand(args: string[]): Promise<number> {
  try {
    return await dispatch(args);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`lab: ${e.message}\n\n${HELP}`);
      return 2;
    }
    throw e;
  }
}

async function dispatch(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  const flags = parseFlags(rest);
  switch (command) {
    case 'up':
      return up(flags);
    case 'down':
      allowOnly(flags, []);
      await labDown();
      process.stdout.write('lab is down: hosts stopped, links, namespaces and state removed\n');
      return 0;
    case 'status':
      allowOnly(flags, []);
      return status();
    case 'spec':
      allowOnly(flags, ['json']);
      return spec(flags.has('json'));
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function parseFlags(args: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  const valued = new Set(['layout', 'prefix', 'subnet']);
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z][a-z0-9]*)(?:=(.*))?$/.exec(args[i]);
    if (!m) throw new UsageError(`unexpected argument "${args[i]}"`);
    const [, name, inline] = m;
    if (!valued.has(name)) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      flags.set(name, '');
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return flags;
}

function allowOnly(flags: Map<string, string>, allowed: string[]): void {
  const bad = [...flags.keys()].filter((k) => !allowed.includes(k));
  if (bad.length > 0) throw new UsageError(`unknown option ${bad.map((b) => `--${b}`).join(', ')}`);
}

async function up(flags: Map<string, string>): Promise<number> {
  allowOnly(flags, ['layout', 'prefix', 'subnet', 's3']);
  const layout = flags.get('layout');
  if (layout !== undefined && !isLayout(layout)) throw new UsageError(`--layout must be one of ${LAB_LAYOUTS.join(', ')}, not "${layout}"`);
  const started = Date.now();
  const lab = await labUp({ layout, prefix: flags.get('prefix'), subnet: flags.get('subnet'), s3: flags.has('s3') || undefined });
  const specFile = writeSpec(lab);
  const width = Math.max(...lab.hosts.map((h) => h.name.length));
  process.stdout.write(
    [
      `lab is up (layout ${lab.layout}, subnet ${lab.subnet}, ${((Date.now() - started) / 1000).toFixed(1)} s):`,
      ...lab.hosts.map((h) => `  ${h.name.padEnd(width)}  ${h.ip}`),
      `private key:  ${lab.privateKeyFile}`,
      `known_hosts:  ${lab.knownHostsFile}`,
      `spec:         ${specFile}`,
      ...(lab.s3 ? [`s3:           https://${lab.s3.endpoint}:${lab.s3.port}/${lab.s3.bucket} on ${lab.s3.host} (CA ${lab.s3.caFile} on every host; keys in ${labPaths(lab.stateDir).record})`] : []),
      `try: ssh -i ${lab.privateKeyFile} -o UserKnownHostsFile=${lab.knownHostsFile} root@${lab.hosts[1].ip}`,
      '',
    ].join('\n'),
  );
  return 0;
}

function isLayout(name: string): name is LabLayout {
  return (LAB_LAYOUTS as readonly string[]).includes(name);
}

function writeSpec(lab: Lab): string {
  const file = labPaths(lab.stateDir).spec;
  fs.writeFileSync(file, `# stanzactl spec for the lab (${lab.layout} layout), written by "${LAB_COMMAND} up"\n${YAML.stringify(labSpec(lab))}`);
  return file;
}

async function status(): Promise<number> {
  const st = await labStatus();
  if (!st.lab) {
    process.stdout.write('no lab is up\n');
    return 1;
  }
  const width = Math.max(...st.hosts.map((h) => h.name.length));
  const yesNo = (b: boolean) => (b ? 'running' : 'stopped');
  process.stdout.write(
    [
      `lab ${st.up ? 'is up' : 'is partly down'} (layout ${st.lab.layout}, subnet ${st.lab.subnet}, prefix ${st.lab.prefix})`,
      ...st.hosts.map((h) => `  ${h.name.padEnd(width)}  ${h.ip.padEnd(15)}  sshd ${yesNo(h.sshd).padEnd(7)}  postgres ${yesNo(h.postgres)}`),
      ...(st.s3 ? [`  S3 server (versitygw) ${yesNo(st.s3.running)}`] : []),
      '',
    ].join('\n'),
  );
  return st.up && st.hosts.every((h) => h.sshd) && st.s3?.running !== false ? 0 : 1;
}

async function spec(json: boolean): Promise<number> {
  const st = await labStatus();
  if (!st.lab) {
    process.stderr.write(`lab: no lab is up; run "${LAB_COMMAND} up"\n`);
    return 1;
  }
  const s = labSpec(st.lab);
  process.stdout.write(json ? `${JSON.stringify(s, null, 2)}\n` : YAML.stringify(s));
  return 0;
}
