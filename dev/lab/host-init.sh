# PID 1 of one lab host. Started by dev/lab/host.ts inside the host's network namespace and
# fresh mount, UTS, IPC and PID namespaces. Builds the host's filesystem, identity and sshd,
# then stays up reaping orphans until it is sent TERM; the kernel then kills everything left
# in the PID namespace and the mounts vanish with the mount namespace.
#
# Runs after host-common.sh. Input (environment): LAB_HOST, LAB_IP, LAB_DIR (this host's state
# dir), LAB_HOSTS (/etc/hosts content), LAB_PUBKEY (operator's public key), LAB_EDB (1 to emulate
# an EDB package install), LAB_S3_CA (the lab's S3 CA certificate, empty without S3) and
# LAB_S3_CA_FILE (where it goes).
set -euo pipefail
# A namespace init ignores signals it does not handle: without this even a host that is still
# booting could only be stopped with SIGKILL.
trap 'exit 0' TERM INT HUP

host=$LAB_HOST ip=$LAB_IP dir=$LAB_DIR hosts=$LAB_HOSTS pubkey=$LAB_PUBKEY edb=$LAB_EDB
s3_ca=$LAB_S3_CA s3_ca_file=$LAB_S3_CA_FILE
unset LAB_INIT LAB_HOST LAB_IP LAB_DIR LAB_HOSTS LAB_PUBKEY LAB_EDB LAB_S3_CA LAB_S3_CA_FILE

root=$dir/root
mkdir -p "$dir/upper" "$dir/work" "$dir/vol" "$root"
# Every write on the host lands in upper/ and is discarded at teardown.
mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$root"

# The lower layer carries no submounts: give the host its own kernel views.
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/dev/shm"

# An empty tmpfs hides the machine's contents; owners and modes as Debian's packages make them.
fresh_tmpfs() { # path mode owner
  mount -t tmpfs -o "nosuid,nodev,mode=$2" tmpfs "$root$1"
  chown "$3" "$root$1"
}
fresh_tmpfs /run 0755 root:root
fresh_tmpfs /tmp 1777 root:root
lab_mount_disk_dirs "$dir" "$root"
# What systemd-tmpfiles would create at boot.
install -d -m 0755 -o root -g root "$root/run/sshd"
install -d -m 1777 -o root -g root "$root/run/lock"
install -d -m 2775 -o postgres -g postgres "$root/run/postgresql"

cd "$root"
mkdir .lab-oldroot
pivot_root . .lab-oldroot
cd /
umount -l /.lab-oldroot
rmdir /.lab-oldroot

hostname "$host"
machine_id=$(tr -d - </proc/sys/kernel/random/uuid)
lab_identity

# Let go of the launcher's log file, the last thing holding the machine's old root.
exec </dev/null >/dev/null 2>&1
# Started last: an answering port 22 tells the launcher the host is ready.
/usr/sbin/sshd -E /var/log/sshd.log

while :; do
  sleep infinity &
  wait $! || true
done
