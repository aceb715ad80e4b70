/**
 * A libpq value: bare when it can be, else single-quoted with `\` and `'` backslash-escaped.
 * libpq reads backslash escapes even in bare values, hence quoting as soon as one appears.
 */
export function conninfoValue(v: string): string {
  if (v.includes('\0')) throw new Error('a connection parameter cannot contain a NUL byte');
  if (v !== '' && !/[\s'\\]/.test(v)) return v;
  return `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * The standby's primary_conninfo. No password: the standby's OS user finds it in ~/.pgpass,
 * so the secret never lands in postgresql.auto.conf or pgbackrest.conf.
 */
export function primaryConninfo(opts: { host: string; port: number; user: string; applicationName: string }): string {
  return [
    `host=${conninfoValue(opts.host)}`,
    `port=${conninfoValue(String(opts.port))}`,
    `user=${conninfoValue(opts.user)}`,
    `application_name=${conninfoValue(opts.applicationName)}`,
  ].join(' ');
}

/** A postgresql.conf string value: single-quoted, a quote doubled. */
export function confString(v: string): string {
  if (v.includes('\0') || v.includes('\n')) throw new Error('a setting cannot contain a NUL byte or a newline');
  return `'${v.replace(/'/g, "''")}'`;
}

/** What makes a node a standby of `primaryHost`: streaming, the archive when streaming lags, and any newer timeline. */
export function standbySettings(o: { primaryHost: string; port: number; user: string; node: string; stanza: string }): [string, string][] {
  return [
    ['primary_conninfo', primaryConninfo({ host: o.primaryHost, port: o.port, user: o.user, applicationName: o.node })],
    ['restore_command', `pgbackrest --stanza=${o.stanza} archive-get %f "%p"`],
    ['recovery_target_timeline', 'latest'],
  ];
}

/**
 * What a standby must not carry over from a restore to a point in time (a recover leaves its target
 * in the primary's file): started as a standby, it would recover to that target and promote itself
 * beside the primary. And a slot of the old primary's, which the new one does not have.
 */
const NOT_FOR_A_STANDBY = ['recovery_target', 'recovery_target_lsn', 'recovery_target_name', 'recovery_target_time', 'recovery_target_xid',
  'recovery_target_inclusive', 'recovery_target_action', 'primary_slot_name'];

/**
 * postgresql.auto.conf with `settings` as its last word: each earlier active line of theirs, and
 * every recovery target and slot (NOT_FOR_A_STANDBY), is commented out (as pgBackRest's restore
 * does with its own), the rest kept; `why` heads the block. The same content when it already ends
 * with them and nothing else is to comment out, so a retry writes nothing.
 */
export function withRecoverySettings(autoConf: string, settings: readonly [string, string][], why: string): string {
  const lines = settings.map(([k, v]) => `${k} = ${confString(v)}`);
  const body = autoConf.endsWith('\n') || autoConf === '' ? autoConf : `${autoConf}\n`;
  const done = settings.every(([k]) => activeCount(body, k) === 1) && NOT_FOR_A_STANDBY.every((k) => activeCount(body, k) === 0);
  if (body.endsWith(`${lines.join('\n')}\n`) && done) return autoConf;
  const keys = new Set([...settings.map(([k]) => k), ...NOT_FOR_A_STANDBY]);
  const kept = body.split('\n').slice(0, -1).map((l) => (keys.has(settingName(l) ?? '') ? `# Replaced by stanzactl: ${l}` : l));
  return [...kept, ...(lines.length ? [`# ${why}`, ...lines] : []), ''].join('\n');
}

function settingName(line: string): string | undefined {
  return /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=/.exec(line)?.[1]?.toLowerCase();
}

function activeCount(conf: string, key: string): number {
  return conf.split('\n').filter((l) => settingName(l) === key).length;
}
