import type { Spec } from '../spec/schema';

/**
 * Who starts and stops a data directory's server on a host: a systemd unit, or pg_ctl/pg_ctlcluster
 * by hand. A server started with pg_ctl under a unit that manages it leaves systemd believing it
 * is down (its next restart fails); a unit started for a directory it does not serve starts
 * another cluster. Pure: the facts come from the host (activities/postgres-service.ts).
 */

export interface UnitFacts {
  readonly id: string;
  readonly loadState: string;
  readonly activeState: string;
  readonly unitFileState: string;
  readonly mainPid: number;
  /** The data directory its Environment's PGDATA or its ExecStart's -D names; undefined when neither does. */
  readonly dataDir?: string;
}

export interface ServiceFacts {
  /** PID 1 is systemd (/run/systemd/system exists, sd_booted's test). */
  readonly systemd: boolean;
  /** The live postmaster of the data directory, by postmaster.pid. */
  readonly postmaster?: { readonly pid: number };
  /** The spec's unit (systemd control), or the units whose files name the data directory (otherwise). */
  readonly units: readonly UnitFacts[];
}

function dataDirOf(props: Map<string, string>): string | undefined {
  const env = /(?:^|\s)PGDATA=(\S+)/.exec(props.get('Environment') ?? '')?.[1];
  const argv = /argv\[\]=([^;]*)/.exec(props.get('ExecStart') ?? '')?.[1] ?? '';
  const d = /(?:^|\s)(?:-D|--pgdata=?)\s*(\S+)/.exec(argv)?.[1];
  // `-D ${PGDATA}` from an EnvironmentFile systemctl does not show: not known.
  const dir = d === undefined || /^\$\{?PGDATA\}?$/.test(d) ? env : d;
  return dir?.replace(/\/+$/, '') || undefined;
}

/**
 * The output of SERVICE_FACTS: `systemd yes|no`, `postmaster PID|-`, then per unit a line
 * `unit NAME` followed by `systemctl show`'s `Key=value` lines.
 */
export function parseServiceFacts(out: string): ServiceFacts {
  const lines = out.split('\n');
  const systemd = lines.includes('systemd yes');
  const pid = /^postmaster (\d+)$/m.exec(out)?.[1];
  const units: UnitFacts[] = [];
  let props: Map<string, string> | undefined;
  const flush = () => {
    if (!props) return;
    units.push({
      id: props.get('Id') ?? '?', loadState: props.get('LoadState') ?? '?', activeState: props.get('ActiveState') ?? '?',
      unitFileState: props.get('UnitFileState') || '?', mainPid: Number(props.get('MainPID') ?? 0), dataDir: dataDirOf(props),
    });
  };
  for (const l of lines) {
    if (l.startsWith('unit ')) {
      flush();
      props = new Map();
    } else if (props && l.includes('=')) {
      props.set(l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1));
    }
  }
  flush();
  return { systemd, ...(pid && { postmaster: { pid: Number(pid) } }), units };
}

const sameDir = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/** Why the spec's control does not fit what runs the data directory on `host`; undefined when it does. */
export function controlProblem(host: string, pg: Spec['postgres'], f: ServiceFacts): string | undefined {
  const c = pg.control;
  const at = `${host}:${pg.dataDir}`;
  if (c.type === 'systemd') {
    if (!f.systemd) return `postgres.control names systemd unit ${c.unit}, but ${host} does not run systemd (PID 1 is not systemd): set postgres.control to pg_ctl or pg_ctlcluster`;
    const u = f.units.find((x) => x.id === c.unit || x.id === `${c.unit}.service`);
    if (!u || u.loadState !== 'loaded') return `systemd unit ${c.unit} (postgres.control) is not installed on ${host} (LoadState=${u?.loadState ?? 'not-found'}): install it, or name the unit that runs ${pg.dataDir}`;
    if (u.dataDir !== undefined && !sameDir(u.dataDir, pg.dataDir)) return `systemd unit ${c.unit} on ${host} serves ${u.dataDir}, not postgres.dataDir ${pg.dataDir}: name the unit that runs ${pg.dataDir}`;
    if (f.postmaster && f.postmaster.pid !== u.mainPid) {
      return `PostgreSQL runs on ${at} (pid ${f.postmaster.pid}) outside systemd unit ${c.unit} (which systemd sees ${u.activeState}): it was started behind systemd's back. ` +
        `Stop it (${pg.binDir}/pg_ctl -D ${pg.dataDir} stop, as ${pg.osUser}) and start it with systemctl start ${c.unit}`;
    }
    return undefined;
  }
  // pg_ctlcluster hands over to systemd itself where a unit runs the cluster (Debian's postgresql@).
  if (c.type !== 'pg_ctl') return undefined;
  const u = f.units.find((x) => x.loadState === 'loaded' && x.dataDir !== undefined && sameDir(x.dataDir, pg.dataDir));
  if (!u) return undefined;
  return `systemd unit ${u.id} (${u.unitFileState}, ${u.activeState}) manages ${at}: pg_ctl (postgres.control) would start and stop it behind systemd's back. ` +
    `Set postgres.control to {type: systemd, unit: ${u.id.replace(/\.service$/, '')}}`;
}

// PostgreSQL's own words when recovery stops short of its target: retrying the start ends the same way.
export const RECOVERY_ENDED = /recovery ended before configured recovery target was reached/;
