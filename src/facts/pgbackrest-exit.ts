/**
 * pgBackRest exits with the code of the error that stopped it (src/build/error/error.yaml,
 * identical in 2.45). Retryable = the same command may succeed later without a human changing
 * anything: another process held the lock, a host or the database was briefly unreachable, a
 * file changed or vanished under a running backup, a remote process died.
 */
const codes: Record<number, [name: string, retryable: boolean]> = {
  25: ['AssertError', false],
  26: ['ChecksumError', false],
  27: ['ConfigError', false],
  28: ['FileInvalidError', false],
  29: ['FormatError', false],
  30: ['CommandRequiredError', false],
  31: ['OptionInvalidError', false],
  32: ['OptionInvalidValueError', false],
  37: ['OptionRequiredError', false],
  38: ['PgRunningError', false],
  39: ['ProtocolError', true],
  40: ['PathNotEmptyError', false],
  41: ['FileOpenError', false],
  42: ['FileReadError', true],
  43: ['ParamRequiredError', false],
  44: ['ArchiveMismatchError', false],
  45: ['ArchiveDuplicateError', false],
  46: ['VersionNotSupportedError', false],
  47: ['PathCreateError', false],
  48: ['CommandInvalidError', false],
  49: ['HostConnectError', true],
  50: ['LockAcquireError', true],
  51: ['BackupMismatchError', false],
  52: ['FileSyncError', false],
  53: ['PathOpenError', false],
  54: ['PathSyncError', false],
  55: ['FileMissingError', true],
  56: ['DbConnectError', true],
  57: ['DbQueryError', false],
  58: ['DbMismatchError', false],
  60: ['FileRemoveError', false],
  61: ['PathRemoveError', false],
  62: ['StopError', false],
  63: ['TermError', true],
  64: ['FileWriteError', false],
  67: ['FeatureNotSupportedError', false],
  68: ['ArchiveCommandInvalidError', false],
  69: ['LinkExpectedError', false],
  70: ['LinkDestinationError', false],
  72: ['HostInvalidError', false],
  73: ['PathMissingError', false],
  74: ['FileMoveError', false],
  75: ['BackupSetInvalidError', false],
  76: ['TablespaceMapError', false],
  78: ['LinkMapError', false],
  79: ['FileCloseError', false],
  80: ['DbMissingError', false],
  81: ['DbInvalidError', false],
  82: ['ArchiveTimeoutError', true],
  83: ['FileModeError', false],
  87: ['ArchiveDisabledError', false],
  88: ['FileOwnerError', false],
  89: ['UserMissingError', false],
  93: ['FileExistsError', false],
  94: ['MemoryError', false],
  95: ['CryptoError', false],
  96: ['ParamInvalidError', false],
  97: ['PathCloseError', false],
  98: ['FileInfoError', false],
  99: ['JsonFormatError', false],
  100: ['KernelError', false],
  101: ['ServiceError', true],
  102: ['ExecuteError', false],
  103: ['RepoInvalidError', false],
  104: ['CommandError', false],
  105: ['AccessError', false],
  106: ['ClockError', false],
  122: ['RuntimeError', false],
  124: ['UnhandledError', false],
  125: ['UnknownError', true],
};

// The same code can mean a passing or a lasting problem; the output tells them apart.
const stanzaMissing = /has a stanza-create been performed\?/;
const hostUnreachable = /unable to check pg\d+: \[(HostConnectError|UnknownError)\]|ssh: connect to host|Connection (refused|timed out)|No route to host/;

/**
 * Name and retryability of a pgBackRest exit code. Pass the command's output when you have it:
 * a missing stanza (FileMissingError on archive.info/backup.info) is lasting, and a "no database
 * found" ConfigError caused by an unreachable host is passing.
 */
export function classifyPgbackrestExit(code: number, output?: string): { name: string; retryable: boolean } {
  if (code === 0) return { name: 'Success', retryable: false };
  const known = codes[code];
  // Anything else (a signal, 255 from ssh, a shell's 126/127) is not pgBackRest speaking: a human should look.
  if (!known) return { name: `exit code ${code}`, retryable: false };
  const [name, retryable] = known;
  if (output !== undefined && code === 55 && stanzaMissing.test(output)) return { name, retryable: false };
  if (output !== undefined && [27, 56].includes(code) && hostUnreachable.test(output)) return { name, retryable: true };
  return { name, retryable };
}

// An object store's reply, which pgBackRest quotes after this marker: S3's names the access key that
// signed the request. No reading for a DBA, and nothing for a workflow's history.
const RESPONSE_CONTENT = /\*\*\* Response Content \*\*\*/;

/** `text` up to the object store's quoted reply, if it quotes one. */
export function withoutResponseContent(text: string): string {
  const at = text.search(RESPONSE_CONTENT);
  return at < 0 ? text : text.slice(0, at).trimEnd();
}

/**
 * The last `ERROR: [NNN]: ...` line with its continuation lines (HINTs, causes), which is what
 * a DBA needs to read. Log-prefixed lines (`P00  ERROR: [...]`) count as well.
 */
export function pgbackrestErrorLine(output: string): string | undefined {
  const lines = output.split('\n');
  let start = -1;
  for (let i = 0; i < lines.length; i++) if (/(^|\s)ERROR: \[\d{3}\]: /.test(lines[i])) start = i;
  if (start < 0) return undefined;
  const first = lines[start].replace(/^.*?ERROR: /, 'ERROR: ');
  // pgBackRest indents continuation lines to the column after "ERROR: ".
  const more: string[] = [];
  for (let i = start + 1; i < lines.length && /^\s+\S/.test(lines[i]) && !/^\s*\d{4}-\d\d-\d\d /.test(lines[i]); i++) {
    if (RESPONSE_CONTENT.test(lines[i])) break;
    more.push(lines[i].trim());
  }
  return [first.trimEnd(), ...more].join('\n');
}
