#!/usr/bin/env bash
# Detached runs (see detached.ts): detached.sh ACTION RUNS KEY ARGS...
# A run lives in RUNS/KEY/: claim/ (made by the one start that won), command, out, pid ("PID
# STARTTIME", field 22 of /proc/PID/stat, so a reused pid is not taken for ours), rc.
action=$1; runs=$2; key=$3; shift 3
dir=$runs/$key

alive() {
  local pid start stat f
  { [ -e "$dir/pid" ] && read -r pid start < "$dir/pid"; } || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  read -ra f <<<"${stat##*) }"
  # A zombie is dead: PID 1 may take a while to reap the orphaned runner.
  [ "${f[0]}" != Z ] && [ "${f[19]}" = "$start" ]
}

# ARGS: the masked description, the runner program; the command line on stdin. Prints "true" when
# it attached to a run already started, "false" when it started it. Finished runs are kept so a
# late retry still finds its result; after 14 days nobody retries.
start() {
  local desc=$1 runner=$2 attached line
  set -eu
  umask 077
  mkdir -p "$dir"
  find "$runs" -mindepth 2 -maxdepth 2 -name rc -mtime +14 -printf '%h\0' | xargs -0r rm -rf --
  if mkdir "$dir/claim" 2>/dev/null; then
    attached=false
    printf '%s\n' "$desc" > "$dir/command"
    line=$(cat)
    printf '%s' "$line" | setsid -f nohup bash -c "$runner" stanzactl-run "$dir" >"$dir/out" 2>&1
  else
    attached=true
  fi
  # Return only once the run has recorded its process (or already ended), so a poll right after
  # a start never takes "not started yet" for "lost".
  for _ in $(seq 100); do
    if [ -e "$dir/pid" ] || [ -e "$dir/rc" ]; then echo "$attached"; exit 0; fi
    sleep 0.1
  done
  echo "run $key recorded no process within 10 s" >&2
  exit 1
}

# ARGS: how many lines of output to print, tenths of a second to wait on the host for a running
# command to end (so the end is seen within 0.1 s, and a wait costs one round trip per that many
# tenths). Prints the state (absent, running, exited RC, lost), the start (UTC) or "-", the output.
poll() {
  local lines=$1 tenths=$2 i=0
  if [ ! -d "$dir" ]; then echo absent; echo -; exit 0; fi
  while [ "$i" -lt "$tenths" ] && [ ! -e "$dir/rc" ] && alive; do sleep 0.1; i=$((i + 1)); done
  if [ -e "$dir/rc" ]; then echo "exited $(cat "$dir/rc")"
  elif alive; then echo running
  elif [ -e "$dir/rc" ]; then echo "exited $(cat "$dir/rc")"
  else echo lost
  fi
  if [ -e "$dir/pid" ]; then date -u -r "$dir/pid" +%Y-%m-%dT%H:%M:%SZ; else echo -; fi
  tail -n "$lines" "$dir/out" 2>/dev/null || true
}

# Removes a finished or lost run; exit 3 while it runs.
clear_run() {
  if alive; then echo "run $key is still running" >&2; exit 3; fi
  rm -rf -- "$dir"
}

# TERM first, so pgBackRest removes its own lock and temporary files; KILL if it lingers. Prints
# "not running", "stopped" or "killed".
stop() {
  local pid start
  alive || { echo "not running"; exit 0; }
  read -r pid start < "$dir/pid"
  kill -TERM -- "-$pid" 2>/dev/null || true
  # The runner records the exit as soon as the command's shell ends; what that shell started
  # (runuser waits 2 s for its child, pgBackRest for its workers) may outlive it: wait for the group.
  for _ in $(seq 100); do kill -0 -- "-$pid" 2>/dev/null || { echo stopped; exit 0; }; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  echo killed
}

case $action in
  start|poll|stop) "$action" "$@" ;;
  clear) clear_run ;;
  *) echo "detached.sh: unknown action $action" >&2; exit 2 ;;
esac
