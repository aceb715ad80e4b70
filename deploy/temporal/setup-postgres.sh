#!/bin/sh
# Creates Temporal's two databases and brings their schemas to the version of the admin-tools
# image (temporal-sql-tool, as Temporal's own PostgreSQL compose set-up does). Runs on every
# `docker compose up`: on databases already set up it only applies what a newer version adds.
set -eu
tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$DB_PORT" --db "$@"; }
for db in temporal visibility; do
  name=$db; [ "$db" = visibility ] && name=temporal_visibility
  tool "$name" create
  tool "$name" setup-schema -v 0.0
  tool "$name" update-schema -d "/etc/temporal/schema/postgresql/v12/$db/versioned"
done
