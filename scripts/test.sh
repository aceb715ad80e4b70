#!/usr/bin/env bash
# All tests: unit (pure logic, fixtures, replay of recorded histories) and end to end (lab hosts,
# real sshd/PostgreSQL/pgBackRest, a real Temporal dev server). Needs root for the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run -s build
# One runner invocation, files one at a time: the e2e files each bring up their own lab and server.
exec node --test --test-concurrency=1 --test-reporter=spec \
  dist/tests/unit/*.test.js dist/tests/e2e/*.test.js
