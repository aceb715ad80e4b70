# Boots one lab host whose PID 1 is systemd. Started by dev/lab/host-systemd.ts, after
# host-common.sh, in a mount namespace of its own (unshare --mount --propagation private) and the
# machine's network namespace: builds the host's root as an overlay of the machine's, writes its
# identity, sshd and PostgreSQL unit into it, then becomes systemd-nspawn, which joins the host's
# network namespace and boots systemd there. Every mount made here lives in this mount namespace
# and vanishes when nspawn ends: teardown has nothing to unmount.
#
# Input (environment): LAB_HOST, LAB_IP, LAB_DIR, LAB_HOSTS, LAB_PUBKEY, LAB_EDB, LAB_S3_CA,
# LAB_S3_CA_FILE (as host-init.sh);
# LAB_UUID (the machine's id, also nspawn's --uuid), LAB_NETNS, LAB_MACHINE (nspawn's machine
# name), LAB_CGROUP (a cgroup of this host's own to run nspawn in); the PostgreSQL package it
# emulates: LAB_PG_UNIT, LAB_PG_DESCRIPTION, LAB_PG_USER, LAB_PG_HOME, LAB_PG_DIRS (the empty
# directories the package ships, space-separated), LAB_PG_DATA, LAB_PG_BIN, LAB_PG_POSTMASTER (the
# program name the unit starts), LAB_PG_CHECK (its ExecStartPre's name), LAB_PG_CHECK_SCRIPT.
set -euo pipefail

dir=$LAB_DIR root=$LAB_DIR/root
mkdir -p "$dir/upper" "$dir/work" "$dir/lower" "$root"
# Non-recursive: the overlay's lower layer is the machine's root filesystem alone, none of its submounts.
mount --bind / "$dir/lower"
mount -t overlay overlay -o "lowerdir=$dir/lower,upperdir=$dir/upper,workdir=$dir/work" "$root"
# nspawn binds the directory recursively, so these come along into the host.
lab_mount_disk_dirs "$dir" "$root"

# Written from inside the host's root, so that users, groups and paths resolve as the host sees them.
setup_inside() {
  set -euo pipefail
  host=$LAB_HOST ip=$LAB_IP hosts=$LAB_HOSTS pubkey=$LAB_PUBKEY edb=$LAB_EDB machine_id=${LAB_UUID//-/}
  s3_ca=$LAB_S3_CA s3_ca_file=$LAB_S3_CA_FILE
  # lab_identity's `sshd -t` wants it; the machine's /run is a mount of its own, not in this root
  # (a machine whose ssh service never ran has none). systemd's tmpfs hides it once the host boots.
  install -d -m 0755 /run/sshd
  lab_identity

  if [ "$(getent passwd "$LAB_PG_USER" | cut -d: -f6)" != "$LAB_PG_HOME" ]; then usermod --home "$LAB_PG_HOME" "$LAB_PG_USER"; fi
  # shellcheck disable=SC2086 # a list of paths without spaces
  install -d -m 0700 -o "$LAB_PG_USER" -g "$LAB_PG_USER" $LAB_PG_DIRS
  # Debian's PostgreSQL 15 under the package's paths. The postmaster resolves its links to find
  # its own installation (share/, lib/), so links are enough.
  install -d -m 0755 "$LAB_PG_BIN"
  for f in /usr/lib/postgresql/15/bin/*; do ln -sfn "$f" "$LAB_PG_BIN/"; done
  ln -sfn /usr/lib/postgresql/15/bin/postgres "$LAB_PG_BIN/$LAB_PG_POSTMASTER"
  printf '%s\n' "$LAB_PG_CHECK_SCRIPT" >"$LAB_PG_BIN/$LAB_PG_CHECK"
  chmod 0755 "$LAB_PG_BIN/$LAB_PG_CHECK"

  # As PGDG's and EDB's RPMs ship it: notify (Debian's postgres is built with systemd support), a
  # fast shutdown on SIGINT reaching the postmaster alone first (mixed), no timeout that could kill
  # a postmaster in crash recovery. Installed, not enabled: enabling is the operator's step.
  cat >"/usr/lib/systemd/system/$LAB_PG_UNIT.service" <<UNIT
[Unit]
Description=$LAB_PG_DESCRIPTION
Documentation=https://www.postgresql.org/docs/15/static/
After=syslog.target
After=network-online.target

[Service]
Type=notify
User=$LAB_PG_USER
Group=$LAB_PG_USER
Environment=PGDATA=$LAB_PG_DATA
OOMScoreAdjust=-1000
Environment=PG_OOM_ADJUST_FILE=/proc/self/oom_score_adj
Environment=PG_OOM_ADJUST_VALUE=0
ExecStartPre=$LAB_PG_BIN/$LAB_PG_CHECK \${PGDATA}
ExecStart=$LAB_PG_BIN/$LAB_PG_POSTMASTER -D \${PGDATA}
ExecReload=/bin/kill -HUP \$MAINPID
KillMode=mixed
KillSignal=SIGINT
TimeoutSec=0
TimeoutStopSec=1h

[Install]
WantedBy=multi-user.target
UNIT

  # What the machine has enabled that a database host in a container does not run: consoles, the
  # machine's own services (its Debian cluster, haproxy) and periodic maintenance.
  local u
  for u in getty.target getty@.service console-getty.service container-getty@.service \
    postgresql.service postgresql@.service haproxy.service e2scrub_reap.service systemd-pstore.service \
    systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
    e2scrub_all.timer fstrim.timer man-db.timer; do
    ln -sfn /dev/null "/etc/systemd/system/$u"
  done
}
# Tools run in the root need /dev and /proc; nspawn mounts its own later, so these go again first.
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
chroot "$root" /bin/bash -c "$(declare -f lab_identity setup_inside); setup_inside"
umount -R "$root/dev"
umount "$root/proc"

# nspawn runs the host in a cgroup below the one it starts in: without one of its own, every host
# would share the same cgroups and one host's systemd would see (and stop) another's services.
while read -r hierarchy; do
  mkdir -p "$hierarchy/$LAB_CGROUP"
  echo $$ >"$hierarchy/$LAB_CGROUP/cgroup.procs"
done < <(awk '$3 == "cgroup2" || ($3 == "cgroup" && $4 ~ /(^|,)name=systemd(,|$)/) { print $2 }' /proc/self/mounts)

# --keep-unit and --register=no: the machine's PID 1 is no systemd, there is no bus to register on.
exec systemd-nspawn --boot --keep-unit --register=no --uuid="$LAB_UUID" --machine="$LAB_MACHINE" \
  --network-namespace-path="/run/netns/$LAB_NETNS" --directory="$root" --link-journal=no \
  --resolv-conf=off --timezone=off --console=read-only
