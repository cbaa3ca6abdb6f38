#!/usr/bin/env bash
# benches/pages.sh [BARE_REPO]: requests per second and latency of the
# repository pages of Hearth's release build, with wrk.
#
# Pushes BARE_REPO (default: the synthetic repository of git-serve.sh's
# generator, made here) into a fresh server, then runs `wrk -t2 -c16 -d10s`
# against the home, history, tree (root and a folder), blob and commit pages.
# Extra `NAME=URL` arguments after the repository are measured the same way in
# the same run, e.g. a cgit serving the same repository for comparison.
#
# Env: DURATION (10s), CONNECTIONS (16), KEEP=1 keeps the work directory.
# Needs git, curl, python3, wrk (apt-get install wrk).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
for c in git curl python3 wrk; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
(cd "$here" && cargo build --release --quiet)
BIN=$here/target/release/hearth

W=$(mktemp -d /tmp/hearth-pages.XXXXXX)
cleanup() {
  [[ -n ${PID:-} ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [[ -n ${KEEP:-} ]] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
export HOME=$W/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME"

SRC=${1:-}
shift || true
if [[ -z $SRC ]]; then
  SRC=$W/synthetic.git
  python3 - "$W/stream" <<'PY'
import sys
out = open(sys.argv[1], "w")
for i in range(2000):
    path = f"src/mod{i % 200}/file{i % 37}.py"
    body = "".join(f"def f{j}(x):\n    return x * {j} + {i}  # commit {i}\n" for j in range(40 + i % 60))
    out.write(f"blob\nmark :{i + 1}\ndata {len(body.encode())}\n{body}\n")
    msg = f"Commit {i}\n"
    out.write(f"commit refs/heads/main\ncommitter Bench <bench@example.test> {1700000000 + i * 60} +0000\n")
    out.write(f"data {len(msg)}\n{msg}M 100644 :{i + 1} {path}\n\n")
PY
  git init -q --bare "$SRC"
  git -C "$SRC" fast-import --quiet <"$W/stream"
  git -C "$SRC" repack -adq
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$port
setsid "$BIN" serve --data "$W/data" --listen "127.0.0.1:$port" 2>"$W/server.log" &
PID=$!
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
echo 'bench-password' | "$BIN" admin create-user bench --admin --data "$W/data" 2>/dev/null
TOKEN=$("$BIN" admin token bench --data "$W/data")
curl -fs -H "Authorization: token $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"repo"}' "$BASE/api/v1/user/repos" >/dev/null
git -C "$SRC" push -q --mirror "http://bench:$TOKEN@127.0.0.1:$port/bench/repo.git"

# A folder, a 40-80 KB file and a commit ten back on main, as the peers are measured.
git -C "$SRC" ls-tree -r -l main >"$W/ls-tree"
blob=$(awk '$4 > 40000 && $4 < 80000 {print $5; exit}' "$W/ls-tree")
blob=${blob:-$(awk '{print $5; exit}' "$W/ls-tree")}
dir=$(dirname "$blob")
cid=$(git -C "$SRC" rev-parse main~10)
R=$BASE/bench/repo
pages=("home=$R" "log=$R/commits/main" "tree_root=$R/tree/main" "tree_dir=$R/tree/main/$dir"
       "blob=$R/blob/main/$blob" "commit_diff=$R/commit/$cid" "$@")

printf '%-14s %8s %9s %9s %9s\n' page status req/s p50_ms p99_ms
for page in "${pages[@]}"; do
  name=${page%%=*} url=${page#*=}
  status=$(curl -s -o /dev/null -w '%{http_code}' "$url")
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$url")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  printf '%-14s %8s %9s %9s %9s\n' "$name" "$status" "$rps" "$p50" "$p99"
done
echo "idle RSS after the run: $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$PID/status")"
