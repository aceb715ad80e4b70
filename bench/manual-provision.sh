#!/usr/bin/env bash
# The seed procedure (Debian layout) as a DBA types it: one command after the other from the
# operator's shell, each through a fresh `ssh root@host` (no ControlMaster), standbys one at a
# time. It is the baseline bench/provision.ts times stanzactl's provisionCluster against, so it
# does what the workflow does and nothing more: same users, directories, key types, conf text,
# cluster options, replication role and pg_hba lines.
#
# usage: REPLICATION_PASSWORD=... manual-provision.sh key=FILE known_hosts=FILE repo=IP primary=IP \
#          standbys="NAME@IP NAME@IP"
#        optional: stanza=demo repo_user=pgbackrest repo_path=/backup_space replication_user=replic_user
# The password comes from the environment so that it shows in no process list. Prints
# `ssh-connections=N` on stdout at the end; progress goes to stderr.
set -euo pipefail

stanza=demo repo_user=pgbackrest repo_path=/backup_space replication_user=replic_user
key='' known_hosts='' repo='' primary='' standbys=''
for arg in "$@"; do
  case $arg in
    key=* | known_hosts=* | repo=* | primary=* | standbys=* | stanza=* | repo_user=* | repo_path=* | replication_user=*)
      declare "${arg%%=*}=${arg#*=}" ;;
    *) echo "manual-provision: unknown argument $arg" >&2; exit 2 ;;
  esac
done
for v in key known_hosts repo primary standbys; do
  [ -n "${!v}" ] || { echo "manual-provision: $v= is required" >&2; exit 2; }
done
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"
# A standby's name is its application_name on the primary, as stanzactl sets it.
declare -A name_of
standby_ips=()
for s in $standbys; do
  name_of[${s#*@}]=${s%@*}
  standby_ips+=("${s#*@}")
done
pg_hosts=("$primary" "${standby_ips[@]}")

# The Debian package layout, as the lab's spec has it.
pg_user=postgres version=15 cluster=main port=5432
data=/var/lib/postgresql/$version/main
hba=/etc/postgresql/$version/main/pg_hba.conf
pgbackrest_dirs='/var/lib/pgbackrest /var/log/pgbackrest /var/spool/pgbackrest'

connections=0
started=$SECONDS
say() { printf '[%3ds] %s\n' $((SECONDS - started)) "$*" >&2; }

# One command on a host through a new SSH connection; its stdout lands in $out.
on() { # ip command [stdin]
  local ip=$1 command=$2
  connections=$((connections + 1))
  out=$(ssh -i "$key" -o UserKnownHostsFile="$known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes \
    -o ControlMaster=no -o ControlPath=none "root@$ip" "$command" <<<"${3-}")
}
# The same as a user of the host: runuser sets HOME, `cd /` because root's home is 0700.
as() { # ip user command [stdin]
  on "$1" "cd / && runuser -u $2 -- bash -c $(printf %q "$3")" "${4-}"
}

say "repository host $repo: user $repo_user, $repo_path"
on "$repo" "groupadd --system $repo_user"
on "$repo" "useradd --system --create-home --home-dir /home/$repo_user --gid $repo_user --shell /bin/bash $repo_user"
on "$repo" "chown $repo_user: $pgbackrest_dirs"
on "$repo" "mkdir -m 0750 $repo_path"
on "$repo" "chown $repo_user: $repo_path"

for ip in "${pg_hosts[@]}"; do
  say "$ip: pgBackRest directories to $pg_user"
  on "$ip" "chown -R $pg_user: $pgbackrest_dirs"
done

say "SSH key pairs"
keygen='mkdir -p -m 0700 ~/.ssh && ssh-keygen -q -N "" -t ed25519 -f ~/.ssh/id_ed25519 && cat ~/.ssh/id_ed25519.pub'
as "$repo" "$repo_user" "$keygen"
repo_pub=$out
declare -A node_pub host_key
for ip in "${pg_hosts[@]}"; do
  as "$ip" "$pg_user" "$keygen"
  node_pub[$ip]=$out
done
say "host keys, read over the operator's pinned connections"
for ip in "$repo" "${pg_hosts[@]}"; do
  on "$ip" 'cat /etc/ssh/ssh_host_ed25519_key.pub'
  host_key[$ip]=$(cut -d' ' -f1,2 <<<"$out")
done

say "authorized_keys and known_hosts both ways"
append='umask 077 && cat >> ~/.ssh/'
for ip in "${pg_hosts[@]}"; do
  as "$ip" "$pg_user" "${append}authorized_keys" "$repo_pub"
  as "$repo" "$repo_user" "${append}authorized_keys" "${node_pub[$ip]}"
  as "$ip" "$pg_user" "${append}known_hosts" "$repo ${host_key[$repo]}"
done
repo_known=''
for ip in "${pg_hosts[@]}"; do repo_known+="$ip ${host_key[$ip]}"$'\n'; done
as "$repo" "$repo_user" "${append}known_hosts" "${repo_known%$'\n'}"

say "verify SSH both ways"
ssh_check='ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10'
for ip in "${pg_hosts[@]}"; do
  as "$repo" "$repo_user" "$ssh_check $pg_user@$ip true"
  as "$ip" "$pg_user" "$ssh_check $repo_user@$repo true"
done

say "pgbackrest.conf on every host"
# Readable by the user that runs pgBackRest there (the package's file is root:postgres 0640).
conf_as() { echo "install -o root -g $1 -m 0640 /dev/stdin /etc/pgbackrest.conf"; }
on "$repo" "$(conf_as "$repo_user")" "[global]
repo1-path=$repo_path
repo1-retention-full=2
log-level-console=info
log-level-file=detail
start-fast=y
delta=y

[$stanza]
pg1-host=$primary
pg1-host-user=$pg_user
pg1-path=$data
pg1-port=$port"
node_conf() { # ip
  printf '%s\n' "[global]" "repo1-host=$repo" "repo1-host-user=$repo_user" "repo1-path=$repo_path" \
    "log-level-console=info" "log-level-file=detail" "delta=y" "" \
    "[$stanza]" "pg1-path=$data" "pg1-user=$pg_user" "pg1-port=$port"
  if [ "$1" != "$primary" ]; then
    echo "recovery-option=primary_conninfo=host=$primary port=$port user=$replication_user application_name=${name_of[$1]}"
  fi
}
for ip in "${pg_hosts[@]}"; do
  on "$ip" "$(conf_as "$pg_user")" "$(node_conf "$ip")"
done

say "primary $primary: cluster with data checksums, archiving"
on "$primary" "pg_createcluster $version $cluster --port $port -- --data-checksums"
on "$primary" "pg_ctlcluster $version $cluster start"
# Separate -c's: ALTER SYSTEM cannot run inside the transaction one -c with several statements makes.
as "$primary" "$pg_user" "psql -X -q -p $port -c \"ALTER SYSTEM SET listen_addresses = '*'\" -c \"ALTER SYSTEM SET archive_mode = 'on'\" -c \"ALTER SYSTEM SET archive_command = 'pgbackrest --stanza=$stanza archive-push %p'\""
on "$primary" "pg_ctlcluster $version $cluster restart"

say "stanza-create, check, full backup on $repo"
as "$repo" "$repo_user" "pgbackrest --stanza=$stanza stanza-create"
as "$repo" "$repo_user" "pgbackrest --stanza=$stanza check"
as "$repo" "$repo_user" "pgbackrest --stanza=$stanza --type=full backup"

say "replication role and pg_hba"
pw_sql=${REPLICATION_PASSWORD//\'/\'\'}
as "$primary" "$pg_user" "psql -X -q -v ON_ERROR_STOP=1 -p $port -f -" "CREATE ROLE $replication_user WITH LOGIN REPLICATION PASSWORD '$pw_sql';"
hba_lines=''
for ip in "${standby_ips[@]}"; do hba_lines+="host    replication    $replication_user    $ip/32    scram-sha-256"$'\n'; done
on "$primary" "cat >> $hba" "${hba_lines%$'\n'}"
on "$primary" "pg_ctlcluster $version $cluster reload"

pw_pgpass=$(sed 's/[\\:]/\\&/g' <<<"$REPLICATION_PASSWORD")
for ip in "${standby_ips[@]}"; do
  say "standby $ip: .pgpass, config dir, restore, start"
  as "$ip" "$pg_user" 'umask 077 && cat >> ~/.pgpass' "*:*:replication:$replication_user:$pw_pgpass"
  # Debian keeps postgresql.conf and pg_hba.conf outside the data directory: a restore does not bring them.
  on "$ip" "pg_createcluster $version $cluster --port $port"
  on "$ip" "find $data -mindepth 1 -delete"
  as "$ip" "$pg_user" "pgbackrest --stanza=$stanza --type=standby --no-delta restore"
  on "$ip" "pg_ctlcluster $version $cluster start"
  say "standby $ip: waiting for streaming"
  for ((i = 0; ; i++)); do
    # Until recovery reaches a consistent state the standby refuses connections: retried too.
    if as "$ip" "$pg_user" "psql -X -At -p $port -c 'SELECT status FROM pg_stat_wal_receiver'" && [ "$out" = streaming ]; then break; fi
    [ "$i" -lt 120 ] || { echo "manual-provision: $ip not streaming after 120 s (status: ${out:-none})" >&2; exit 1; }
    sleep 1
  done
done

as "$primary" "$pg_user" "psql -X -At -p $port -c \"SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'\""
[ "$out" = "${#standby_ips[@]}" ] || { echo "manual-provision: primary sees $out streaming standbys, expected ${#standby_ips[@]}" >&2; exit 1; }
say "done: ${#standby_ips[@]} standbys streaming"
echo "ssh-connections=$connections"
