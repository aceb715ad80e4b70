import { isIP } from 'node:net';

/**
 * The keys stanzactl adds to authorized_keys (a node's or a copy host's database account at the
 * repository user, the repository user at the database account) serve pgBackRest's remote and
 * nothing else: `restrict` (no pty, no forwarding), a forced command that runs only
 * `pgbackrest ... <command>:remote`, and `from=` the host's address where the spec gives one.
 */

/** Where the forced command lives on every host stanzactl trusts: root's, mode 755. */
export const REMOTE_GATE = '/usr/local/libexec/stanzactl/pgbackrest-remote';

/** What a key may do: `pins` NAME=VALUE (an option the remote may carry only with one of these values), `from` an address. */
export interface KeyAccess {
  readonly pins: readonly string[];
  readonly from?: string;
}

// Pins go inside the command="..." option: no quote, backslash or space can be among them.
const pinShape = /^[a-z0-9][a-z0-9-]*=[A-Za-z0-9._:/,@+%=-]+$/;

/** The host's address as a `from=` pattern: an IP address only (a name would need sshd's UseDNS, and is skipped). */
export function fromPin(address: string): string | undefined {
  return isIP(address) ? address : undefined;
}

/** `restrict,command="<gate> pins...",from="addr"`: the options of a line stanzactl adds. */
export function keyOptions(access: KeyAccess): string {
  for (const p of access.pins) {
    if (!pinShape.test(p)) throw new Error(`not usable as a forced-command pin: ${JSON.stringify(p)}`);
  }
  if (access.from !== undefined && !isIP(access.from)) throw new Error(`not an IP address for from=: ${JSON.stringify(access.from)}`);
  const command = [REMOTE_GATE, ...[...new Set(access.pins)].sort()].join(' ');
  return [`restrict`, `command="${command}"`, ...(access.from !== undefined ? [`from="${access.from}"`] : [])].join(',');
}

/** Splits an authorized_keys line into its options (before the key type) and the rest. */
export function splitOptions(line: string, isKeyType: (word: string) => boolean): { options: string[]; rest: string } {
  const t = line.trim();
  const first = t.split(/\s+/)[0] ?? '';
  if (isKeyType(first)) return { options: [], rest: t };
  // Options: comma-separated, values in double quotes may hold commas, spaces and \" escapes.
  const options: string[] = [];
  let cur = '';
  let quoted = false;
  let i = 0;
  for (; i < t.length; i++) {
    const c = t[i];
    if (quoted && c === '\\' && t[i + 1] === '"') {
      cur += '\\"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      cur += c;
    } else if (!quoted && c === ',') {
      options.push(cur);
      cur = '';
    } else if (!quoted && /\s/.test(c)) {
      break;
    } else {
      cur += c;
    }
  }
  options.push(cur);
  return { options: options.filter((o) => o !== ''), rest: t.slice(i).trim() };
}

/** The pins of a forced command of ours among a line's options; undefined when the line has none of ours. */
export function gatePins(options: readonly string[]): string[] | undefined {
  const command = options.find((o) => o.startsWith('command="'));
  if (command === undefined) return undefined;
  const words = command.slice('command="'.length, -1).split(' ');
  return words[0] === REMOTE_GATE ? words.slice(1).filter((w) => pinShape.test(w)) : undefined;
}

/**
 * The forced command. SSH_ORIGINAL_COMMAND is what pgBackRest asked for: `<exe> --opt=val ...
 * <command>:remote`, options joined by spaces, a value with a space in double quotes (pgBackRest
 * 2.45, protocol/helper.c). It is split here without any shell: a word must be a plain option, a
 * quoted one without anything a shell expands, or the remote command; options that name programs,
 * configs or paths of the host's own (config, log/lock/spool path, cmd) are refused, a pinned
 * option must carry a pinned value (a `repo1-path` or `pg1-path` pin holds for that path of every
 * index), and the host's own pgbackrest runs with the words as argv.
 * `pgbackrest version` is allowed too: stanzactl's check that the trust works.
 */
export function remoteGateScript(pgbackrest: string): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(pgbackrest)) throw new Error(`not an absolute program path: ${JSON.stringify(pgbackrest)}`);
  return `#!/bin/bash
# Installed by stanzactl: the forced command of the SSH keys it authorizes. Runs pgBackRest's
# remote only; arguments NAME=VALUE pin an option to the values given.
set -u
deny() { echo "stanzactl: this key runs pgBackRest's remote only: $* refused" >&2; exit 1; }
quoted='^(--[a-z0-9][a-z0-9-]*=)"([^"\\$\`[:cntrl:]]*)"( +|$)'
plain='^([A-Za-z0-9._:/,@+%=-]+)( +|$)'
exe='^(pgbackrest|/[A-Za-z0-9._/-]*/pgbackrest)$'
option='^--([a-z0-9][a-z0-9-]*)(=(.*))?$'
line=\${SSH_ORIGINAL_COMMAND-}
[ -n "$line" ] || deny "a login without a command"
[ \${#line} -le 65536 ] || deny "a command this long"
words=()
rest=$line
while [ -n "$rest" ]; do
  if [[ $rest =~ $quoted ]]; then words+=("\${BASH_REMATCH[1]}\${BASH_REMATCH[2]}")
  elif [[ $rest =~ $plain ]]; then words+=("\${BASH_REMATCH[1]}")
  else deny "a command with shell syntax"
  fi
  rest=\${rest:\${#BASH_REMATCH[0]}}
done
n=\${#words[@]}
[[ \${words[0]} =~ $exe ]] || deny "a command other than pgbackrest"
if [ "$n" = 2 ] && [ "\${words[1]}" = version ]; then exec @PGBACKREST@ version; fi
[ "$n" -ge 3 ] && [[ \${words[n-1]} =~ ^[a-z][a-z-]*:remote$ ]] || deny "a pgbackrest command other than a remote"
type=
for ((i = 1; i < n - 1; i++)); do
  [[ \${words[i]} =~ $option ]] || deny "argument \${words[i]}"
  name=\${BASH_REMATCH[1]}; value=\${BASH_REMATCH[3]}
  case $name in
    config | config-path | config-include-path | log-path | lock-path | spool-path | cmd | cmd-ssh | *-host-cmd | *-host-config*) deny "option --$name" ;;
    remote-type) type=$value ;;
  esac
  # repo2-path is as much the repository's path as repo1-path (--repo=2 picks it): a path pin holds for every index.
  key=$name; [[ $name =~ ^(repo|pg)[0-9]+-path$ ]] && key=\${BASH_REMATCH[1]}1-path
  pinned=no; ok=no
  for pin in "$@"; do
    [ "\${pin%%=*}" = "$key" ] || continue
    pinned=yes; [ "\${pin#*=}" = "$value" ] && ok=yes
  done
  [ $pinned = no ] || [ $ok = yes ] || deny "--$name=$value"
done
[ "$type" = repo ] || [ "$type" = pg ] || deny "a remote without --remote-type=repo or pg"
exec @PGBACKREST@ "\${words[@]:1}"
`.replace(/@PGBACKREST@/g, pgbackrest);
}
