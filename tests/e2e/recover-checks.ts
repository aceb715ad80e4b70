import assert from 'node:assert/strict';
import type { ClusterChecks } from './cluster-checks';

/** What a recover must leave behind, read with psql and pgbackrest on the lab hosts. */
export class RecoverChecks {
  constructor(readonly c: ClusterChecks) {}

  get primary(): string {
    return this.c.spec.nodes.find((n) => n.role === 'primary')!.name;
  }

  /**
   * Creates `table` with `rows` rows, notes the time, drops it and gets the WAL archived: returns
   * the time to recover to (after the insert committed, before the drop).
   */
  async tableThenDrop(table: string, rows: number): Promise<string> {
    await this.c.psql(this.primary, `CREATE TABLE ${table} AS SELECT g AS i FROM generate_series(1, ${rows}) g`);
    const target = await this.c.psql(this.primary, 'SELECT clock_timestamp()');
    await this.c.psql(this.primary, `DROP TABLE ${table}`);
    await this.c.pgbackrest('check');
    return target;
  }

  async tableRows(table: string): Promise<string | undefined> {
    if ((await this.c.psql(this.primary, `SELECT to_regclass('${table}') IS NOT NULL`)) !== 't') return undefined;
    return this.c.psql(this.primary, `SELECT count(*) FROM ${table}`);
  }

  async primaryStarted(): Promise<string> {
    return this.c.psql(this.primary, 'SELECT pg_postmaster_start_time()');
  }

  /** Every node's postmaster start time: a refused recover stops and restarts none. */
  async startTimes(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const n of this.c.spec.nodes) out[n.name] = await this.c.psql(n.name, 'SELECT pg_postmaster_start_time()');
    return out;
  }

  /** Restores begun on any node, from their restore logs. */
  async allRestores(): Promise<number> {
    let n = 0;
    for (const node of this.c.spec.nodes) n += await this.restores(node.name);
    return n;
  }

  /** The transaction that created `table` (its pg_class row's xmin). */
  async creatingXid(table: string): Promise<string> {
    return this.c.psql(this.primary, `SELECT xmin FROM pg_class WHERE relname = '${table}'`);
  }

  async primaryTimeline(): Promise<number> {
    return parseInt((await this.c.psql(this.primary, 'SELECT pg_walfile_name(pg_current_wal_lsn())')).slice(0, 8), 16);
  }

  /** Resolves once a rebuild of `node` has registered itself in the stanza lock on the repository host. */
  async rebuildRegistered(node: string): Promise<void> {
    const entry = `/var/lib/stanzactl/locks/stanza-${this.c.spec.stanza}/rebuild/${node}`;
    while ((await this.c.sh('backup-srv', ['bash', '-c', `test -e ${entry} && echo yes || echo no`])).trim() !== 'yes') {
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** pgBackRest restores begun on a node, from its restore log. */
  async restores(host: string): Promise<number> {
    const log = await this.c.sh(host, ['bash', '-c', `cat /var/log/pgbackrest/${this.c.spec.stanza}-restore.log 2>/dev/null || true`]);
    return log.match(/restore command begin/g)?.length ?? 0;
  }

  /** The primary writes on a later timeline, both standbys stream it, a backup was taken on it, new rows replicate. */
  async assertOnNewTimeline(before: number): Promise<void> {
    const timeline = await this.primaryTimeline();
    assert.ok(timeline > before, `timeline ${timeline} after ${before}`);
    assert.deepEqual(await this.c.streamingStandbys(), this.c.standbys);
    for (const s of this.c.standbys) {
      assert.equal(await this.c.psql(s, "SELECT received_tli FROM pg_stat_wal_receiver WHERE status = 'streaming'"), String(timeline), `${s} streams timeline ${timeline}`);
    }
    const info = JSON.parse(await this.c.pgbackrest('info', '--output=json')) as { name: string; backup: { label: string; archive: { start: string } }[] }[];
    const onTimeline = info.find((s) => s.name === this.c.spec.stanza)!.backup.filter((b) => parseInt(b.archive.start.slice(0, 8), 16) === timeline);
    assert.ok(onTimeline.length >= 1, `a backup on timeline ${timeline}`);
    assert.equal(await this.c.psql(this.primary, 'SELECT pg_is_in_recovery()'), 'f');
    await this.c.rowReplicates();
  }
}
