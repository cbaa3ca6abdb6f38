#!/usr/bin/env bash
# benches/git-serve.sh [BARE_REPO]: measure Hearth serving git over HTTP.
#
# Starts the release binary on a free port with a temporary data directory,
# pushes BARE_REPO (default: a synthetic repository made here, 2,000 commits)
# into it, then times with hyperfine: ls-remote, clone over protocol v2 and
# v0, and a no-op fetch. Reports the server's idle RSS (after start-up and
# after the clones) and its RSS peak during a clone.
#
# Env: RUNS (5) clone runs, FAST_RUNS (20) ls-remote/fetch runs, KEEP=1 keeps
# the work directory. Needs git, curl, python3, hyperfine (apt-get install hyperfine).
for c in git curl python3 hyperfine; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
FAST_RUNS=${FAST_RUNS:-20}

SRC=${1:-}
if [[ -z $SRC ]]; then
  SRC=$W/synthetic.git
  synthetic_repo "$SRC"
fi
start_hearth
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$PID/status"; }
echo "idle RSS after start-up: $(rss)"
push_repo "$SRC"
# Let background housekeeping settle before measuring.
sleep 2

git clone -q --bare "$URL" "$W/fetch-base"
hyperfine --style basic --runs "$FAST_RUNS" --warmup 2 \
  -n ls-remote "git ls-remote $URL" \
  -n fetch-noop "git -C $W/fetch-base fetch -q origin"
hyperfine --style basic --runs "$RUNS" --warmup 1 --prepare "rm -rf $W/c" \
  -n clone-v2 "git -c protocol.version=2 clone -q --bare $URL $W/c" \
  -n clone-v0 "git -c protocol.version=0 clone -q --bare $URL $W/c"

peak=0
rm -rf "$W/c"; git clone -q --bare "$URL" "$W/c" & cpid=$!
while kill -0 $cpid 2>/dev/null; do
  kb=$( { ps --ppid "$PID" -o rss= || true; } | awk '{s+=$1} END {print s+0}')
  own=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
  if (( kb + own > peak )); then peak=$((kb + own)); fi
  sleep 0.05
done
echo "peak RSS during a clone (server and its git children): $peak kB"
sleep 1
echo "idle RSS after the clones: $(rss)"
