#!/bin/sh
# ExecStartPre of the lab's PostgreSQL units, as RHEL-style packages ship one: refuses to start a
# server on a data directory that initdb has not made (or one of another major version), with a
# message that says what to do, instead of letting the postmaster fail with a less helpful one.
data=${1:?usage: $0 DATA_DIRECTORY}
if [ ! -f "$data/PG_VERSION" ] || [ ! -d "$data/base" ]; then
  echo "\"$data\" is missing or empty: initialize it with initdb (or restore a backup into it) first."
  exit 1
fi
version=$(cat "$data/PG_VERSION")
if [ "$version" != 15 ]; then
  echo "\"$data\" holds a PostgreSQL $version cluster; this server is PostgreSQL 15."
  exit 1
fi
