# Functions shared by both kinds of lab host (host-init.sh: a small init; host-systemd.sh: systemd
# booted by systemd-nspawn). Sourced before either; both build the same host, only PID 1 differs.

# Directories each host gets fresh and disk-backed, so the machine's own contents (its cluster, its
# root's home) stay hidden and what can grow (databases, logs) is not in tmpfs. Owners and modes as
# Debian's packages create them (base-files, postgresql-common, pgbackrest). Fields: path mode owner.
lab_disk_dirs() {
  cat <<'DIRS'
/var/tmp 1777 root:root
/var/lib/postgresql 0755 postgres:postgres
/etc/postgresql 0755 postgres:postgres
/var/log/postgresql 1775 root:postgres
/var/lib/pgbackrest 0750 postgres:postgres
/var/log/pgbackrest 0750 postgres:postgres
/var/spool/pgbackrest 0750 postgres:postgres
/home 0755 root:root
/root 0700 root:root
DIRS
}

# Binds a fresh directory of the host's state dir $1 over each of lab_disk_dirs below root $2.
lab_mount_disk_dirs() { # state-dir root
  local path mode owner src
  while read -r path mode owner; do
    src=$1/vol/${path//\//_}
    mkdir -p "$src"
    chown "$owner" "$src"
    chmod "$mode" "$src"
    mount --bind "$src" "$2$path"
  done < <(lab_disk_dirs)
  # root's dot files as base-files installs them.
  cp /usr/share/base-files/dot.bashrc "$2/root/.bashrc"
  cp /usr/share/base-files/dot.profile "$2/root/.profile"
}

# The host's identity and sshd, written inside its root. Input: host ip hosts pubkey edb machine_id
# s3_ca s3_ca_file.
lab_identity() {
  echo "$host" >/etc/hostname
  printf '%s\n' "$hosts" >/etc/hosts
  echo "$machine_id" >/etc/machine-id
  # Without LANG here pg_createcluster silently makes SQL_ASCII clusters (pam_env reads this file).
  echo 'LANG=C.UTF-8' >/etc/default/locale
  # Into no trust store: a client trusts the lab's S3 server only when told this file, as with a
  # private CA on a real site.
  if [ -n "$s3_ca" ]; then
    install -d -m 0755 "$(dirname "$s3_ca_file")"
    printf '%s\n' "$s3_ca" >"$s3_ca_file"
    chmod 0644 "$s3_ca_file"
  fi

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
  cat >/etc/ssh/sshd_config.d/00-stanzactl-lab.conf <<SSHD
ListenAddress $ip:22
UsePAM yes
PermitRootLogin prohibit-password
PasswordAuthentication no
SSHD
  install -d -m 0700 /root/.ssh
  printf '%s\n' "$pubkey" >/root/.ssh/authorized_keys
  chmod 0600 /root/.ssh/authorized_keys
  /usr/sbin/sshd -t
}
