// Pure (the workflow bundle imports it through spec/schema.ts).

/**
 * The grammar a drill check (`drills.checks[i]`) must fit, judged without a server. It is
 * conservative on purpose: the check runs on a full copy of production, so what cannot be judged
 * from its text is refused. The runtime confines it as well (render/drill-checks.ts: a role without
 * superuser rights, a read-only transaction, a timeout); this grammar is the first wall, not the only.
 *
 * - one query starting with SELECT or WITH (after any opening parentheses), whose result is one
 *   boolean: it becomes a scalar subquery `(check) IS TRUE`, so its parentheses must balance;
 * - string literals only as plain '...' ('' for a quote): no E'', U&'', B'', X'' nor any other
 *   prefix, no dollar quoting, and no backslash anywhere (how a backslash is read depends on
 *   standard_conforming_strings, which the copy takes from production);
 * - outside literals: no ";", no comment (-- or /*), no "$" (parameters, dollar quotes), no
 *   statement keyword (COPY, DO, CALL, SET, RESET, INSERT, ...) and no function known to write,
 *   read files, sleep, signal or run SQL given as text (set_config, pg_read_file, lo_*, dblink*,
 *   query_to_xml, ...), whether bare or "quoted".
 */

const STATEMENT_WORDS = [
  'insert', 'update', 'delete', 'merge', 'copy', 'do', 'call', 'set', 'reset', 'create', 'alter', 'drop', 'grant', 'revoke',
  'truncate', 'lock', 'into', 'execute', 'prepare', 'deallocate', 'listen', 'unlisten', 'notify', 'vacuum', 'analyze', 'analyse',
  'reindex', 'checkpoint', 'refresh', 'discard', 'import', 'security', 'authorization', 'begin', 'commit', 'rollback', 'savepoint',
];

const WRITING_FUNCTIONS = [
  'set_config', 'nextval', 'setval', 'txid_current', 'pg_notify', 'pg_sleep', 'pg_sleep_for', 'pg_sleep_until', 'pg_reload_conf',
  'pg_rotate_logfile', 'pg_terminate_backend', 'pg_cancel_backend', 'pg_switch_wal', 'pg_create_restore_point', 'pg_promote',
  'pg_stat_file', 'pg_import_system_collations', 'pg_log_backend_memory_contexts', 'pg_backup_start', 'pg_backup_stop',
  'pg_start_backup', 'pg_stop_backup', 'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema', 'cursor_to_xml', 'cursor_to_xmlschema',
];

const WRITING_PREFIXES = [
  'lo_', 'dblink', 'pg_read_', 'pg_ls_', 'pg_file_', 'pg_stat_reset', 'pg_advisory', 'pg_try_advisory', 'pg_replication_', 'pg_create_',
  'pg_drop_', 'pg_wal_replay_', 'pg_logical_', 'pg_current_xact', 'txid_current',
];

function forbiddenWord(word: string): string | undefined {
  const w = word.toLowerCase();
  if (STATEMENT_WORDS.includes(w)) return `the keyword ${word.toUpperCase()}: a check is one query that reads`;
  if (WRITING_FUNCTIONS.includes(w) || WRITING_PREFIXES.some((p) => w.startsWith(p))) return `${word}: a function that writes, reads files, waits or runs SQL given as text`;
  return undefined;
}

// PostgreSQL's lexer takes any non-ASCII character as part of an identifier.
const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_\u0080-\uffff]/;

/** Why `sql` is not a check stanzactl runs, or undefined when it fits the grammar above. */
export function drillCheckProblem(sql: string): string | undefined {
  if (sql.includes('\\')) return 'no backslash (its meaning depends on standard_conforming_strings)';
  if (sql.includes('\0')) return 'no NUL character';
  let depth = 0;
  let first: string | undefined;
  for (let i = 0; i < sql.length; ) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      if (i > 0 && /[A-Za-z0-9_$&]/.test(sql[i - 1])) return `no prefixed literal or identifier (E'', U&'', B'', X''): at character ${i + 1}`;
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= sql.length) return `an unterminated ${c === "'" ? 'string literal' : 'quoted identifier'} at character ${i + 1}`;
        if (sql[j] === c) {
          if (sql[j + 1] !== c) break;
          j++;
        }
        text += sql[j++];
      }
      if (c === '"') {
        const why = forbiddenWord(text);
        if (why) return why;
      }
      first ??= c;
      i = j + 1;
      continue;
    }
    if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < sql.length && WORD_PART.test(sql[j])) j++;
      const word = sql.slice(i, j);
      const why = forbiddenWord(word);
      if (why) return why;
      first ??= word.toLowerCase();
      i = j;
      continue;
    }
    if (c === ';') return 'no ";": one query';
    if (c === '$') return 'no "$" outside a literal (no parameters, no dollar quoting)';
    if ((c === '-' && sql[i + 1] === '-') || (c === '/' && sql[i + 1] === '*')) return 'no comment';
    if (c === '(') depth++;
    if (c === ')' && --depth < 0) return `a ")" without its "(" at character ${i + 1}`;
    if (c !== '(' && !/\s/.test(c)) first ??= c;
    i++;
  }
  if (depth !== 0) return 'unbalanced parentheses';
  if (first !== 'select' && first !== 'with') return 'one query starting with SELECT or WITH';
  return undefined;
}
