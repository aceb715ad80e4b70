#!/usr/bin/env bash
# All tests: unit (pure logic, fixtures, replay of recorded histories) and end to end (lab hosts,
# real sshd/PostgreSQL/pgBackRest, a real Temporal dev server). Needs root for the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run -s build
# Our bash programs before anything runs them.
bash scripts/check-shell.sh
# The fault matrix asserts how fast each killed step resumes: it runs alone, after the unit tests.
# Every other e2e file brings up a lab (own names, own subnet) and a Temporal server of its own, and
# mostly waits on PostgreSQL and pgBackRest: two at a time keep a 2-core machine busy, not overloaded.
status=0
node --test --test-concurrency=1 --test-reporter=spec dist/tests/unit/*.test.js dist/tests/unit/scripts/*.test.js dist/tests/e2e/fault-matrix.test.js || status=1
others=()
for f in dist/tests/e2e/*.test.js; do [ "$f" = dist/tests/e2e/fault-matrix.test.js ] || others+=("$f"); done
node --test --test-concurrency=2 --test-reporter=spec "${others[@]}" || status=1
exit $status
