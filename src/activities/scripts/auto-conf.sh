#!/usr/bin/env bash
# Prepended to the creation bodies: the settings stanzactl wants, as ALTER SYSTEM would write them,
# go in before the first start. As the data directory's owner, like initdb: root never writes where
# that account could plant a link. $1 the account, $2 the data directory, $3 the settings' lines.
append_auto_conf() {
  # shellcheck disable=SC2016 # $1 is the inner sh's own argument, expanded there
  printf '%s' "$3" | runuser -u "$1" -- sh -c 'cat >> "$1/postgresql.auto.conf"' sh "$2"
}
