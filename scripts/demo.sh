#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, starts the local Temporal server
# (SQLite file) and the lab hosts, starts a worker, provisions the lab cluster and prints the summary.
#   bash scripts/demo.sh         bring everything up and provision (again: nothing changes)
#   bash scripts/demo.sh down    stop the worker, the server and the lab
set -euo pipefail
cd "$(dirname "$0")/.."
export STANZACTL_STATE=${STANZACTL_STATE:-$PWD/.state}
mkdir -p "$STANZACTL_STATE"
stanzactl() { node bin/stanzactl.js "$@"; }
# The lab hosts are the project's dev tooling (dev/lab), not a stanzactl command.
lab() { node dist/dev/cli.js lab "$@"; }

# A pid file is trusted only while its process is still the stanzactl command we started.
ours() {
  local f=$STANZACTL_STATE/$1.pid cmdline
  [ -f "$f" ] || return 1
  cmdline=$(tr '\0' ' ' < "/proc/$(cat "$f")/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"stanzactl.js $1"* ]]
}
stop() { if ours "$1"; then kill "$(cat "$STANZACTL_STATE/$1.pid")"; echo "stopped $1"; fi; rm -f "$STANZACTL_STATE/$1.pid"; }
start() {
  if ours "$1"; then return; fi
  nohup node bin/stanzactl.js "$1" > "$STANZACTL_STATE/$1.log" 2>&1 &
  echo $! > "$STANZACTL_STATE/$1.pid"
}

if [ "${1:-up}" = down ]; then
  stop worker; stop server; lab down; exit 0
fi

bash scripts/setup.sh

start server
for _ in $(seq 1 150); do
  .venv/bin/temporal operator cluster health --address "${TEMPORAL_ADDRESS:-127.0.0.1:7233}" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "Temporal server: ${TEMPORAL_ADDRESS:-127.0.0.1:7233} (log $STANZACTL_STATE/server.log)"

lab up

# The spec names the password by reference ({env: STANZACTL_SECRET_REPLICATION_PASSWORD}); the worker holds it.
if [ -z "${STANZACTL_SECRET_REPLICATION_PASSWORD:-}" ]; then
  [ -s "$STANZACTL_STATE/replication-password" ] || (umask 077; head -c 18 /dev/urandom | base64 > "$STANZACTL_STATE/replication-password")
  STANZACTL_SECRET_REPLICATION_PASSWORD=$(cat "$STANZACTL_STATE/replication-password")
  export STANZACTL_SECRET_REPLICATION_PASSWORD
fi
start worker

stanzactl provision --spec "$STANZACTL_STATE/lab/spec.yaml"
cat <<EOT

Temporal UI: http://127.0.0.1:8233/namespaces/default/workflows (workflow provision-demo@<repository host>, named above)
Spec: $STANZACTL_STATE/lab/spec.yaml   Logs: $STANZACTL_STATE/{server,worker}.log
Stop everything: bash scripts/demo.sh down
EOT
