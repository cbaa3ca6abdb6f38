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
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
FAST_RUNS=${FAST_RUNS:-20}
for c in git curl python3 hyperfine; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done

(cd "$here" && cargo build --release --quiet)
BIN=$here/target/release/hearth

W=$(mktemp -d /tmp/hearth-bench.XXXXXX)
cleanup() {
  [[ -n ${PID:-} ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [[ -n ${KEEP:-} ]] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
export HOME=$W/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME"
git config --global user.name Bench; git config --global user.email bench@example.test
git config --global init.defaultBranch main


SRC=${1:-}
if [[ -z $SRC ]]; then
  SRC=$W/synthetic.git
  echo "making a synthetic repository (2,000 commits)" >&2
  python3 - "$W/stream" <<'PY'
import sys
out = open(sys.argv[1], "w")
mark = 0
for i in range(2000):
    mark += 1
    path = f"src/mod{i % 200}/file{i % 37}.txt"
    body = "".join(f"line {j} of commit {i}\n" for j in range(40 + i % 60))
    out.write(f"blob\nmark :{mark}\ndata {len(body.encode())}\n{body}\n")
    msg = f"Commit {i}\n"
    out.write(f"commit refs/heads/main\ncommitter Bench <bench@example.test> {1700000000 + i * 60} +0000\n")
    out.write(f"data {len(msg)}\n{msg}M 100644 :{mark} {path}\n\n")
PY
  git init -q --bare "$SRC"
  git -C "$SRC" fast-import --quiet <"$W/stream"
  git -C "$SRC" repack -adq
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$port
# Its own session, so signals sent to this script's process group miss it.
setsid "$BIN" serve --data "$W/data" --listen "127.0.0.1:$port" 2>"$W/server.log" &
PID=$!
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$PID/status"; }
echo "idle RSS after start-up: $(rss)"

echo 'bench-password' | "$BIN" admin create-user bench --admin --data "$W/data" 2>/dev/null
TOKEN=$("$BIN" admin token bench --data "$W/data")
curl -fs -H "Authorization: token $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"repo"}' "$BASE/api/v1/user/repos" >/dev/null
git -C "$SRC" push -q --mirror "http://bench:$TOKEN@127.0.0.1:$port/bench/repo.git"
URL=$BASE/bench/repo.git
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
  kb=$(ps --ppid "$PID" -o rss= | awk '{s+=$1} END {print s+0}')
  own=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
  (( kb + own > peak )) && peak=$((kb + own))
  sleep 0.05
done
echo "peak RSS during a clone (server and its git children): $peak kB"
sleep 1
echo "idle RSS after the clones: $(rss)"
