#!/usr/bin/env bash
# benches/git-serve.sh [BARE_REPO]: measure Hearth serving git over HTTP.
#
# Starts the release binary on a free port with a temporary data directory,
# pushes BARE_REPO (default: a synthetic repository made here, 2,000 commits)
# into it, then times with hyperfine: ls-remote, clone over protocol v2 and
# v0, a no-op fetch, a push of 100 commits to a new branch and 8 clones at
# once. Reports the server's idle RSS (after start-up and after the clones)
# and its RSS peak during a clone.
#
# With PEERS=1 the same workloads run against git's own http-backend
# (behind lighttpd's CGI, serving a copy of the same repository) in the
# same hyperfine invocations, so each pair is measured side by side.
#
# Env: RUNS (5) clone and push runs, FAST_RUNS (20) ls-remote/fetch runs,
# PEERS=1, KEEP=1 keeps the work directory. Needs git, curl, python3,
# hyperfine (apt-get install hyperfine; PEERS=1: lighttpd cgit).
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

# Each workload as "name|command|prepare" for Hearth and, with PEERS=1, the peer.
servers=("hearth|$URL|${URL/http:\/\//http://bench:$TOKEN@}")
if [[ -n ${PEERS:-} ]]; then
  start_peers "$SRC"
  peer_versions
  servers+=("http-backend|$PEER_GIT_URL|$PEER_GIT_URL")
fi
git clone -q "$SRC" "$W/pusher"
git -C "$W/pusher" checkout -q -b p100
for i in $(seq 100); do echo "$i" >"$W/pusher/p100.txt"; git -C "$W/pusher" add p100.txt; git -C "$W/pusher" commit -qm "p $i"; done
fast=() slow=() push=() par=()
for s in "${servers[@]}"; do
  IFS='|' read -r name url wurl <<<"$s"
  git clone -q --bare "$url" "$W/fetch-base-$name"
  fast+=(-n "ls-remote $name" "git ls-remote $url" -n "fetch-noop $name" "git -C $W/fetch-base-$name fetch -q origin")
  slow+=(-n "clone-v2 $name" "rm -rf $W/c && git -c protocol.version=2 clone -q --bare $url $W/c"
         -n "clone-v0 $name" "rm -rf $W/c && git -c protocol.version=0 clone -q --bare $url $W/c")
  push+=(-n "push-100 $name" "git -C $W/pusher push -q $wurl :refs/heads/p100 2>/dev/null; git -C $W/pusher push -q $wurl p100")
  par+=(-n "clone-par8 $name" "for i in 1 2 3 4 5 6 7 8; do rm -rf $W/p\$i; git clone -q --bare $url $W/p\$i & done; wait")
done
hyperfine --style basic --runs "$FAST_RUNS" --warmup 2 "${fast[@]}"
hyperfine --style basic --runs "$RUNS" --warmup 1 "${slow[@]}"
hyperfine --style basic --runs "$RUNS" "${push[@]}"
hyperfine --style basic --runs 3 "${par[@]}"

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
