import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { labExec, type Lab } from '../../dev/lab';
import { TUNING_KEYS, type Spec } from '../../src/spec/schema';

const READ_CONF_PATH = 'f=/etc/pgbackrest.conf; if [ -e /etc/pgbackrest/pgbackrest.conf ]; then f=/etc/pgbackrest/pgbackrest.conf; fi';

/** A pgbackrest.conf as stanzactl wrote it before its speed settings, and as the seed has it: gz, one process, archiving synchronously. */
export function withoutTuning(conf: string): string {
  const keys = new Set<string>(Object.values(TUNING_KEYS));
  return conf.split('\n').filter((l) => !keys.has(l.split('=')[0].trim())).join('\n');
}

/** A backup as `pgbackrest info --output=json` prints it, read without stanzactl's parser. */
export interface RawBackup {
  label: string;
  type: string;
  timestamp: { start: number; stop: number };
  info: { size: number; delta: number; repository: { size: number; delta: number } };
}

/** Checks of a provisioned lab cluster made without stanzactl: psql and pgbackrest on the hosts. */
export class ClusterChecks {
  constructor(readonly lab: Lab, readonly spec: Spec) {}

  private get primary(): string {
    return this.spec.nodes.find((n) => n.role === 'primary')!.name;
  }

  get standbys(): string[] {
    return this.spec.nodes.filter((n) => n.role === 'standby').map((n) => n.name);
  }

  async sh(host: string, argv: string[], user?: string): Promise<string> {
    const r = await labExec(this.lab, host, argv, { user });
    assert.equal(r.code, 0, `${host}: ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** How many times pgBackRest began `command` on `host`, from its log files. */
  async pgbackrestBegins(host: string, command: 'backup' | 'restore'): Promise<number> {
    const log = await this.sh(host, ['bash', '-c', `cat /var/log/pgbackrest/*-${command}.log 2>/dev/null || true`]);
    return log.match(new RegExp(`${command} command begin`, 'g'))?.length ?? 0;
  }

  async psql(host: string, sql: string): Promise<string> {
    const pg = this.spec.postgres;
    return (await this.sh(host, [`${pg.binDir}/psql`, '-X', '-At', '-p', String(pg.port), '-d', 'postgres', '-c', sql], pg.osUser)).trim();
  }

  async pgbackrest(...args: string[]): Promise<string> {
    return this.sh('backup-srv', ['pgbackrest', `--stanza=${this.spec.stanza}`, ...args], this.spec.repository.user);
  }

  async streamingStandbys(): Promise<string[]> {
    const rows = await this.psql(this.primary, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1");
    return rows.split('\n').filter(Boolean);
  }

  async fullBackups(): Promise<string[]> {
    const info = JSON.parse(await this.pgbackrest('info', '--output=json')) as { name: string; backup: { label: string; type: string }[] }[];
    return info.find((s) => s.name === this.spec.stanza)!.backup.filter((b) => b.type === 'full').map((b) => b.label);
  }

  /** A row written on the primary must reach every standby. */
  async rowReplicates(timeoutMs = 60_000): Promise<void> {
    const marker = randomUUID();
    await this.psql(this.primary, `CREATE TABLE IF NOT EXISTS stanzactl_e2e (marker text); INSERT INTO stanzactl_e2e VALUES ('${marker}')`);
    const deadline = Date.now() + timeoutMs;
    for (const standby of this.standbys) {
      for (;;) {
        const seen = await this.psql(standby, `SELECT count(*) FROM pg_class WHERE relname = 'stanzactl_e2e'`) === '1'
          && await this.psql(standby, `SELECT count(*) FROM stanzactl_e2e WHERE marker = '${marker}'`) === '1';
        if (seen) break;
        assert.ok(Date.now() < deadline, `row ${marker} did not reach ${standby}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** The pgbackrest.conf pgBackRest reads on the host: the user guide's path when it exists. */
  async pgbackrestConf(host: string): Promise<string> {
    return this.sh(host, ['bash', '-c', `${READ_CONF_PATH}; cat "$f"`]);
  }

  /** Rewrites that file as a site's admin would (as root, keeping its owner and mode). */
  async setPgbackrestConf(host: string, text: string): Promise<void> {
    const r = await labExec(this.lab, host, ['bash', '-c', `${READ_CONF_PATH}; cat > "$f"`], { input: text });
    assert.equal(r.code, 0, `${host}: cannot write pgbackrest.conf: ${r.stderr}`);
  }

  /** What a second provision must leave exactly as it was. */
  async snapshot(): Promise<Record<string, string>> {
    const s: Record<string, string> = {};
    const hba = await this.psql(this.primary, 'SHOW hba_file');
    s.hba = await this.sh(this.primary, ['cat', hba]);
    s.backups = (await this.fullBackups()).join(',');
    for (const n of this.spec.nodes) {
      s[`${n.name} started`] = await this.psql(n.name, 'SELECT pg_postmaster_start_time()');
      s[`${n.name} conf`] = await this.pgbackrestConf(n.name);
      s[`${n.name} auto.conf`] = await this.sh(n.name, ['cat', `${this.spec.postgres.dataDir}/postgresql.auto.conf`]);
    }
    s['repo conf'] = await this.pgbackrestConf('backup-srv');
    s['repo authorized_keys'] = await this.sh('backup-srv', ['cat', `/home/${this.spec.repository.user}/.ssh/authorized_keys`]);
    return s;
  }

  /**
   * Two standbys stream, one full backup, check passes, a new row reaches both standbys. A cluster
   * stanzactl created has data checksums; one it adopted (a package's initdb) is left as it was.
   */
  async assertHealthy(primary: 'created' | 'adopted' = 'created'): Promise<void> {
    assert.deepEqual(await this.streamingStandbys(), this.standbys);
    assert.equal((await this.fullBackups()).length, 1);
    await this.pgbackrest('check');
    await this.rowReplicates();
    if (primary === 'created') assert.equal(await this.psql(this.primary, 'SHOW data_checksums'), 'on');
  }

  /** The node's unit runs its postmaster, as systemd sees it: active, enabled, MainPID the postmaster's. */
  async assertUnitRuns(host: string): Promise<void> {
    const pg = this.spec.postgres;
    assert.equal(pg.control.type, 'systemd');
    const unit = pg.control.type === 'systemd' ? pg.control.unit : '';
    const script = 'systemctl is-active "$1"; systemctl is-enabled "$1"; systemctl show -p MainPID --value "$1"; head -n 1 "$2/postmaster.pid"';
    const out = (await this.sh(host, ['bash', '-c', script, 'x', unit, pg.dataDir])).trim().split('\n');
    assert.deepEqual(out.slice(0, 2), ['active', 'enabled'], `${host}: ${out.join(' ')}`);
    assert.equal(out[2], out[3], `${host}: the unit's MainPID is the postmaster's`);
  }

  async assertProvisionChangesNothing(provision: () => Promise<{ changed: boolean; steps: { changed?: boolean }[] }>): Promise<void> {
    const before = await this.snapshot();
    const result = await provision();
    assert.equal(result.changed, false, JSON.stringify(result.steps.filter((s) => s.changed)));
    assert.deepEqual(await this.snapshot(), before);
  }
}
