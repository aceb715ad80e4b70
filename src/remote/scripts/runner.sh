#!/usr/bin/env bash
# A detached run's runner (started by detached.sh): runs as root in its own session and lives as
# long as the command, to record its exit status. $1 the run's directory; the command line arrives
# on stdin, so secrets in it stay out of argv and the environment.
dir=$1
line=$(cat)
# A TERM/INT sent to the whole run should end the command but not the runner, which must record
# the status. A trap with a handler (unlike an ignored signal) is reset in the command's subshell.
trap : TERM INT
stat=$(cat /proc/$$/stat); read -ra f <<<"${stat##*) }"
printf '%s %s\n' "$$" "${f[19]}" > "$dir/pid.tmp" && mv -f "$dir/pid.tmp" "$dir/pid"
(eval "$line") </dev/null; rc=$?
printf '%s\n' "$rc" > "$dir/rc.tmp" && mv -f "$dir/rc.tmp" "$dir/rc"
