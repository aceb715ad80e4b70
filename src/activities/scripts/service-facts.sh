#!/usr/bin/env bash
# What runs a data directory under systemd (see facts/postgres-service.ts): $1 data dir, $2 OS
# user, $3 the spec's unit ('' when the spec says pg_ctl: then every unit whose files name the data
# directory). postmaster.pid is read as the account: it is in its directory.
set -u
[ -d /run/systemd/system ] || { echo "systemd no"; exit 0; }
echo "systemd yes"
pid=$(runuser -u "$2" -- head -n 1 -- "$1/postmaster.pid" 2>/dev/null || true)
case "$pid" in ''|*[!0-9]*) echo "postmaster -" ;; *) if kill -0 "$pid" 2>/dev/null; then echo "postmaster $pid"; else echo "postmaster -"; fi ;; esac
if [ -n "$3" ]; then units=("$3")
else mapfile -t units < <(grep -rlsF -- "$1" /etc/systemd/system /run/systemd/system /usr/lib/systemd/system /lib/systemd/system | sed -n 's#^.*/\([^/]*\.service\)\(\.d/[^/]*\)\{0,1\}$#\1#p' | sort -u); fi
# ${a[@]+...}: an empty array is "unbound" to set -u in bash before 4.4.
for u in ${units[@]+"${units[@]}"}; do
  echo "unit $u"
  systemctl show -p Id -p LoadState -p ActiveState -p UnitFileState -p MainPID -p Environment -p ExecStart -- "$u"
done
