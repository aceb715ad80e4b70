#!/usr/bin/env bash
# Runs a body of ours on a guarded path (refusal.sh comes first): $1 body, $2 the account the path
# must belong to when an account controls it ('' for a read: any account may be read as itself),
# $3 the path, then the body's own arguments. The body sees the path as $1 and its arguments after.
set -eu

# Walks the components of $1 with one lstat of them all; ctl ends as root, or as the account that
# controls the directory holding the path. A root-made link restarts the walk from where it leads.
guard() {
  local path=$1 hop i n p u g m who kind
  local -a parts prefixes st
  ctl=root
  for ((hop = 0; hop < 40; hop++)); do
    if [[ ! $path =~ ^(/[^/]+)+$ ]] || [[ $path =~ /\.\.?(/|$) ]]; then refusal "$1 is not an absolute, normalized path"; fi
    IFS=/ read -r -a parts <<< "$path"
    n=$((${#parts[@]} - 1)); prefixes=(); p=
    for ((i = 1; i <= n; i++)); do p=$p/${parts[i]}; prefixes+=("$p"); done
    # Only a tail of the components can be missing, so the lines that come back are a prefix.
    mapfile -t st < <(stat -c '%u %g %a %U %F' -- "${prefixes[@]}" 2>/dev/null)
    for ((i = 0; i < ${#st[@]}; i++)); do
      read -r u g m who kind <<< "${st[i]}"
      p=${prefixes[i]}
      if [ "$kind" = 'symbolic link' ]; then
        if [ "$i" = $((n - 1)) ]; then refusal "$1 is a symbolic link (to $(readlink -- "$p")): stanzactl does not follow it"; fi
        if [ "$ctl" != root ]; then refusal "$p is a symbolic link (to $(readlink -- "$p")) in a directory $ctl controls: stanzactl does not follow it for $1"; fi
        path=$(realpath -e -- "$p")${path:${#p}} || refusal "$p is a symbolic link that does not resolve, on the way to $1"
        continue 2
      fi
      [ "$kind" = directory ] || return 0
      if [ "$i" -lt $((n - 1)) ] && [ "$ctl" = root ]; then
        m=$((8#$m))
        if [ "$u" != 0 ]; then ctl=$who
        elif [ $((m & 8#002)) != 0 ] || { [ $((m & 8#020)) != 0 ] && [ "$g" != 0 ]; }; then
          refusal "$p is writable by accounts other than root: stanzactl will not work below it as root"
        fi
      fi
    done
    return 0
  done
  refusal "$1: too many symbolic links"
}

body=$1; owner=$2; path=$3; shift 2
guard "$path"
if [ "$ctl" = root ]; then exec bash -c "$body" stanzactl "$@"; fi
if [ -n "$owner" ] && [ "$owner" != "$ctl" ]; then
  refusal "$path should belong to $owner, but $ctl controls the directory it is in: stanzactl writes there only as $ctl"
fi
exec runuser -u "$ctl" -- bash -c "$body" stanzactl "$@"
