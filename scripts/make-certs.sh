#!/usr/bin/env bash
# Certificates for Temporal with mutual TLS (docker-compose.yml, README "Running with Docker Compose"):
#
#   scripts/make-certs.sh [--dir DIR] [--san DNS:name|IP:address]...
#
# Makes in DIR (default ./tls, created 0700):
#   ca.pem, ca.key           the CA every party trusts; ca.key signs, keep it offline once done
#   server.pem, server.key   the Temporal server (frontend and internode): names temporal, localhost,
#                            127.0.0.1 and every --san; client use too, as Temporal's own system
#                            worker presents it to its frontend
#   worker.pem, worker.key   the stanzactl worker
#   cli.pem, cli.key         the stanzactl CLI and the namespace set-up (an operator's certificate)
#   ui.pem, ui.key           the Temporal UI (compose profile "ui")
# Keys 0600, certificates 0644, P-256 keys; the CA lasts 10 years, the others 825 days.
#
# Never overwrites: a pair already there (certificate and key) is kept, a missing pair is made
# (signed by the CA there), and a half pair (one file without the other) is refused, naming it.
# To renew a certificate, move its pair away and run the script again.
set -euo pipefail

dir=./tls
sans=(DNS:temporal DNS:localhost IP:127.0.0.1)
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --san)
      [[ ${2:-} =~ ^(DNS:[A-Za-z0-9.-]+|IP:[0-9A-Fa-f:.]+)$ ]] || { echo "make-certs: --san takes DNS:name or IP:address, not '${2:-}'" >&2; exit 2; }
      sans+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-certs: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

umask 077
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"

# 0: both files there (kept); 1: neither (to make); a half pair stops the script.
missing() {
  if [ -e "$1.pem" ] && [ -e "$1.key" ]; then echo "kept $dir/$1.pem and $1.key"; return 1; fi
  if [ -e "$1.pem" ] || [ -e "$1.key" ]; then
    echo "make-certs: refused: $dir/$1.$([ -e "$1.pem" ] && echo pem || echo key) is there without $1.$([ -e "$1.pem" ] && echo key || echo pem): nothing overwritten; move it away to make the pair again" >&2
    exit 1
  fi
}

made() {
  chmod 600 "$1.key"
  chmod 644 "$1.pem"
  echo "made $dir/$1.pem and $1.key"
}

# Files are written beside and moved with -n: a file that appeared meanwhile is not replaced.
newkey() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key.new" 2>/dev/null
  mv -n "$1.key.new" "$1.key"
}

if missing ca; then
  newkey ca
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=stanzactl Temporal CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out ca.pem.new
  mv -n ca.pem.new ca.pem
  made ca
fi

leaf() {
  local name=$1 cn=$2 ext=$3
  missing "$name" || return 0
  newkey "$name"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n' "$ext" > "$name.ext"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 825 -extfile "$name.ext" -out "$name.pem.new" 2>/dev/null
  mv -n "$name.pem.new" "$name.pem"
  rm -f "$name.csr" "$name.ext"
  made "$name"
}

leaf server temporal "extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$(IFS=,; echo "${sans[*]}")"
leaf worker stanzactl-worker extendedKeyUsage=clientAuth
leaf cli stanzactl-cli extendedKeyUsage=clientAuth
leaf ui temporal-ui extendedKeyUsage=clientAuth
rm -f ca.srl
