# PID 1 of one lab host. Started by src/lab/host.ts inside the host's network namespace and
# fresh mount, UTS, IPC and PID namespaces. Builds the host's filesystem, identity and sshd,
# then stays up reaping orphans until it is sent TERM; the kernel then kills everything left
# in the PID namespace and the mounts vanish with the mount namespace.
#
# Input (environment): LAB_HOST, LAB_IP, LAB_DIR (this host's state dir), LAB_HOSTS (/etc/hosts
# content), LAB_PUBKEY (operator's public key), LAB_EDB (1 to emulate an EDB package install).
set -euo pipefail
# A namespace init ignores signals it does not handle: without this even a host that is still
# booting could only be stopped with SIGKILL.
trap 'exit 0' TERM INT HUP

host=$LAB_HOST ip=$LAB_IP dir=$LAB_DIR hosts=$LAB_HOSTS pubkey=$LAB_PUBKEY edb=$LAB_EDB
unset LAB_INIT LAB_HOST LAB_IP LAB_DIR LAB_HOSTS LAB_PUBKEY LAB_EDB

root=$dir/root
mkdir -p "$dir/upper" "$dir/work" "$dir/vol" "$root"
# Every write on the host lands in upper/ and is discarded at teardown.
mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$root"

# The lower layer carries no submounts: give the host its own kernel views.
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/dev/shm"

# An empty tmpfs hides the machine's contents (e.g. its own PostgreSQL cluster).
fresh_tmpfs() { # path mode owner
  mount -t tmpfs -o "nosuid,nodev,mode=$2" tmpfs "$root$1"
  chown "$3" "$root$1"
}
# The same, disk-backed, for what can grow (databases, logs, homes).
fresh_disk() { # path mode owner
  local src=$dir/vol/${1//\//_}
  mkdir -p "$src"
  chown "$3" "$src"
  chmod "$2" "$src"
  mount --bind "$src" "$root$1"
}
# Owners and modes as Debian's packages create them (base-files, postgresql-common, pgbackrest).
fresh_tmpfs /run 0755 root:root
fresh_tmpfs /tmp 1777 root:root
fresh_disk /var/tmp 1777 root:root
fresh_disk /var/lib/postgresql 0755 postgres:postgres
fresh_disk /etc/postgresql 0755 postgres:postgres
fresh_disk /var/log/postgresql 1775 root:postgres
fresh_disk /var/lib/pgbackrest 0750 postgres:postgres
fresh_disk /var/log/pgbackrest 0750 postgres:postgres
fresh_disk /var/spool/pgbackrest 0750 postgres:postgres
fresh_disk /home 0755 root:root
fresh_disk /root 0700 root:root
# What systemd-tmpfiles would create at boot.
install -d -m 0755 -o root -g root "$root/run/sshd"
install -d -m 1777 -o root -g root "$root/run/lock"
install -d -m 2775 -o postgres -g postgres "$root/run/postgresql"
# root's dot files as base-files installs them.
cp /usr/share/base-files/dot.bashrc "$root/root/.bashrc"
cp /usr/share/base-files/dot.profile "$root/root/.profile"

cd "$root"
mkdir .lab-oldroot
pivot_root . .lab-oldroot
cd /
umount -l /.lab-oldroot
rmdir /.lab-oldroot

hostname "$host"
echo "$host" >/etc/hostname
printf '%s\n' "$hosts" >/etc/hosts
tr -d '-' </proc/sys/kernel/random/uuid >/etc/machine-id
# Without LANG here pg_createcluster silently makes SQL_ASCII clusters (pam_env reads this file).
echo 'LANG=C.UTF-8' >/etc/default/locale

if [ "$edb" = 1 ]; then
  # What an EDB Postgres Advanced Server 15 package leaves: its user and an empty version dir.
  # Membership of postgres lets it put its socket in Debian's /var/run/postgresql.
  groupadd --system enterprisedb
  useradd --system --gid enterprisedb --groups postgres --home-dir /var/lib/edb --shell /bin/bash \
    --comment 'EDB Postgres Advanced Server' enterprisedb
  install -d -m 0700 -o enterprisedb -g enterprisedb /var/lib/edb /var/lib/edb/as15
fi

# The overlay shows the machine's host keys: without new ones every host would share one identity.
rm -f /etc/ssh/ssh_host_*
ssh-keygen -A >/dev/null
# sshd keeps the first value it reads and sshd_config includes this directory first.
# UsePAM yes: without PAM, sshd takes a "!" password field (Debian's postgres, any useradd
# user) as a locked account and refuses its key logins. MaxSessions and MaxStartups keep OpenSSH's
# defaults (10, 10:30:100), as production hosts have them: the client must live within them.
cat >/etc/ssh/sshd_config.d/00-stanzactl-lab.conf <<EOF
ListenAddress $ip:22
UsePAM yes
PermitRootLogin prohibit-password
PasswordAuthentication no
EOF
install -d -m 0700 /root/.ssh
printf '%s\n' "$pubkey" >/root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
/usr/sbin/sshd -t

# Let go of the launcher's log file, the last thing holding the machine's old root.
exec </dev/null >/dev/null 2>&1
# Started last: an answering port 22 tells the launcher the host is ready.
/usr/sbin/sshd -E /var/log/sshd.log

while :; do
  sleep infinity &
  wait $! || true
done
