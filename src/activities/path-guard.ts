/**
 * Root never follows a path that a less-privileged account controls. Every file primitive runs
 * its body through GUARDED, which walks the path from / before anything is touched:
 *
 * - while every directory on the way can be changed by root alone, the body runs as root: nobody
 *   else can swap a component between the check and the act, so there is no race;
 * - from the first directory an account owns (a home, /var/lib/postgresql, a repository path),
 *   the body runs AS that account (runuser, inside the root shell, so a sudo login works too):
 *   the kernel then refuses whatever the account could not do itself, links or not;
 * - a symbolic link is refused, non-retryable, where an account could have planted it (below such
 *   a directory) and at the path itself (the file or directory read or handed over). Links only
 *   root could have made above it (an admin's /home -> /var/home) are followed and their target
 *   walked the same way.
 */

/** Exit status of a refusal: the reason, naming the path, is the last line of stderr. */
export const REFUSED_EXIT = 90;

const GUARD = `refusal() { echo "$*" >&2; exit ${REFUSED_EXIT}; }
# Sets ctl to the owner of directory $1 unless root alone can change entries in it. A root-owned
# directory others may write to has no single account to act as: refused.
control() {
  local u g m
  read -r u g m < <(stat -c '%u %g %a' -- "$1")
  m=$((8#$m))
  if [ "$u" != 0 ]; then ctl=$(stat -c %U -- "$1"); return 0; fi
  if [ $((m & 8#002)) != 0 ] || { [ $((m & 8#020)) != 0 ] && [ "$g" != 0 ]; }; then
    refusal "$1 is writable by accounts other than root: stanzactl will not work below it as root"
  fi
}
# Walks the components of $1; ctl ends as root or as the account that controls the last directory.
guard() {
  local path=$1 cur= i n real c p
  local -a parts cs
  ctl=root
  [[ $path =~ ^(/[^/]+)+$ ]] && [[ ! $path =~ /\\.\\.?(/|$) ]] || refusal "$path is not an absolute, normalized path"
  IFS=/ read -r -a parts <<< "$path"
  n=\${#parts[@]}
  for ((i = 1; i < n; i++)); do
    cur=$cur/\${parts[i]}
    if [ -L "$cur" ]; then
      if [ $i = $((n - 1)) ]; then refusal "$path is a symbolic link (to $(readlink -- "$cur")): stanzactl does not follow it"; fi
      if [ "$ctl" != root ]; then refusal "$cur is a symbolic link (to $(readlink -- "$cur")) in a directory $ctl controls: stanzactl does not follow it for $path"; fi
      real=$(realpath -e -- "$cur") || refusal "$cur is a dangling symbolic link on the way to $path"
      IFS=/ read -r -a cs <<< "$real"
      p=
      for c in "\${cs[@]:1}"; do p=$p/$c; [ "$ctl" != root ] || control "$p"; done
      cur=$real
    fi
    [ -d "$cur" ] || return 0
    if [ $i -lt $((n - 1)) ] && [ "$ctl" = root ]; then control "$cur"; fi
  done
}`;

/**
 * Runs a body of ours on a guarded path: $1 body, $2 the account the path must belong to when an
 * account controls it ('' for a read: any account may be read as itself), $3 the path, then the
 * body's own arguments. The body sees the path as $1 and its arguments after it.
 */
export const GUARDED = `set -eu
${GUARD}
body=$1; owner=$2; path=$3; shift 2
guard "$path"
if [ "$ctl" = root ]; then exec bash -c "$body" stanzactl "$@"; fi
if [ -n "$owner" ] && [ "$owner" != "$ctl" ]; then
  refusal "$path should belong to $owner, but $ctl controls the directory it is in: stanzactl writes there only as $ctl"
fi
exec runuser -u "$ctl" -- bash -c "$body" stanzactl "$@"`;
