#!/usr/bin/env bash
# All tests: unit (pure logic, fixtures, replay of recorded histories) and end to end (lab hosts,
# real sshd/PostgreSQL/pgBackRest, a real Temporal dev server). Needs root for the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run -s build
# Our bash programs before anything runs them.
bash scripts/check-shell.sh
# The fault matrix asserts how fast each killed step resumes: it runs alone, one file at a time with
# the unit tests (node --test sorts its files by name, so it runs first).
status=0
node --test --test-concurrency=1 --test-reporter=spec dist/tests/unit/*.test.js dist/tests/unit/scripts/*.test.js dist/tests/e2e/fault-matrix.test.js || status=1

# Every other e2e file brings up a lab (own names, own subnet) and a Temporal server of its own, and
# mostly waits on PostgreSQL and pgBackRest: three at a time keep a 2-core machine busy without
# failing a test (docs/testing.md#how-long-the-tests-take). The phase lasts until its last file ends,
# so the long files start first: started late, one runs on alone (in name order systemd.test.js,
# 410 s, started third from last and ran its last 4 minutes alone). long_first: the files measured
# longest, longest first; the others follow in name order, so a new file needs no entry and a
# renamed one only loses its place. tests/run-in-order.ts keeps this order (node --test sorts the
# files it is given) and ends with each file's wall time, longest first: when a file not listed
# nears the top, list it.
long_first=(offsite host-faults systemd drill fleet restore speed-defaults failover recover-proofs recover backup switchover failover-edb access switchover-edb roles-moved)
e2e=()
for name in "${long_first[@]}"; do
  if [ -f "dist/tests/e2e/$name.test.js" ]; then e2e+=("dist/tests/e2e/$name.test.js"); fi
done
for f in dist/tests/e2e/*.test.js; do
  case " ${e2e[*]} dist/tests/e2e/fault-matrix.test.js " in
    *" $f "*) ;;
    *) e2e+=("$f") ;;
  esac
done
node dist/tests/run-in-order.js 3 "${e2e[@]}" || status=1
exit $status
