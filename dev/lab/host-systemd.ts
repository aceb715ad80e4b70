import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { execIn } from './exec';
import type { SystemdFlavour } from './flavours';
import { hostEnv, hostScript, launchHost } from './host';
import type { HostBoot, RecordPids, StartedHost } from './host';
import { pidInNetns } from './network';
import { labScript } from './paths';

/**
 * The cgroup (in each hierarchy systemd uses) a systemd host's nspawn runs in: nspawn puts the
 * host below the cgroup it starts in, so hosts sharing one would share their services' cgroups.
 */
export function hostCgroup(netns: string): string {
  return `stanzactl-lab-${netns}`;
}

/** The hierarchies nspawn uses: the unified one, and systemd's named v1 one on a hybrid machine. */
export function systemdCgroupRoots(): string[] {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([, , type, opts]) => type === 'cgroup2' || (type === 'cgroup' && (opts ?? '').split(',').includes('name=systemd')))
    .map(([, mountPoint]) => mountPoint);
}

/** True if `pid` is the systemd-nspawn that runs the host joined to `netns`: only then may the lab signal it. */
export function isHostNspawn(pid: number, netns: string): boolean {
  if (!(pid > 0)) return false;
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return path.basename(argv[0]) === 'systemd-nspawn' && argv.includes(`--network-namespace-path=/run/netns/${netns}`);
  } catch {
    return false;
  }
}

/** The host's systemd: the child nspawn started in the host's network namespace. */
function containerInit(nspawnPid: number, netns: string): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === nspawnPid && state !== 'Z' && pidInNetns(Number(entry), netns)) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

export interface SystemdHostBoot extends HostBoot {
  flavour: SystemdFlavour;
  /** The primary gets an initialized cluster, its unit enabled and started; the others the unit alone. */
  primary: boolean;
}

/** Boots a host whose PID 1 is systemd and returns once it reached its default target. */
export async function startSystemdHost(boot: SystemdHostBoot, record: RecordPids): Promise<StartedHost> {
  const f = boot.flavour;
  const started = await launchHost(boot, {
    argv: ['unshare', '--mount', '--propagation', 'private', 'bash', '-c', 'eval "$LAB_BOOT"', 'stanzactl-lab-boot'],
    env: {
      ...hostEnv(boot),
      LAB_BOOT: hostScript('host-systemd.sh'),
      LAB_UUID: randomUUID(),
      LAB_NETNS: boot.netns,
      LAB_MACHINE: boot.netns,
      LAB_CGROUP: hostCgroup(boot.netns),
      LAB_PG_UNIT: f.unit,
      LAB_PG_DESCRIPTION: f.description,
      LAB_PG_USER: f.osUser,
      LAB_PG_HOME: f.home,
      LAB_PG_DIRS: f.dirs.join(' '),
      LAB_PG_DATA: f.dataDir,
      LAB_PG_BIN: f.binDir,
      LAB_PG_POSTMASTER: f.postmaster,
      LAB_PG_CHECK: f.checkDbDir,
      LAB_PG_CHECK_SCRIPT: fs.readFileSync(labScript('check-db-dir.sh'), 'utf8'),
    },
    findInit: (pid) => containerInit(pid, boot.netns),
    // Four systemd boots share the machine's two cores.
    readyTimeoutMs: 120000,
  }, record);
  await mustSucceed(boot.name, started.initPid, ['timeout', '120', 'systemctl', 'is-system-running', '--wait'], 'systemctl --failed --no-legend');
  if (boot.primary) await mustSucceed(boot.name, started.initPid, ['bash', '-c', INIT_PRIMARY, 'init-primary', f.osUser, f.binDir, f.dataDir, String(f.port), f.unit], `journalctl -u ${f.unit} --no-pager -n 20`);
  return started;
}

// The package's initdb step, then the operator's `systemctl enable --now` of the reference
// procedure. Debian's binaries default to port 5432, EPAS's to 5444: the port line says which.
const INIT_PRIMARY = `set -eu
user=$1 bin=$2 data=$3 port=$4 unit=$5
runuser -u "$user" -- "$bin/initdb" --pgdata="$data" --auth-local=peer --auth-host=scram-sha-256 >/dev/null
echo "port = $port" >>"$data/postgresql.conf"
systemctl enable --now --quiet "$unit"`;

async function mustSucceed(host: string, initPid: number, argv: string[], diagnose: string): Promise<void> {
  const r = await execIn(initPid, argv);
  if (r.code === 0) return;
  const why = await execIn(initPid, ['bash', '-c', diagnose]);
  throw new Error(`${host}: ${argv.join(' ')} failed (exit ${r.code}): ${(r.stdout + r.stderr).trim()}\n${diagnose}:\n${why.stdout.trim()}`);
}
