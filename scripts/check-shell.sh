#!/usr/bin/env bash
# The product's bash programs (every .sh below src/; the lab's test hosts are dev/'s): each must
# parse (bash -n) and pass shellcheck. They run as root on the user's hosts and are sent with each
# call, so a finding fails the tests; a `# shellcheck disable=` needs a comment that says why.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find src -name '*.sh' | sort)
[ ${#files[@]} -gt 0 ] || { echo "check-shell: no .sh files found below src/" >&2; exit 1; }
status=0
for f in "${files[@]}"; do bash -n "$f" || status=1; done
shellcheck --external-sources "${files[@]}" || status=1
[ $status = 0 ] && echo "check-shell: ${#files[@]} programs parse and pass shellcheck"
exit $status
