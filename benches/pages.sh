#!/usr/bin/env bash
# benches/pages.sh [BARE_REPO]: requests per second and latency of the
# repository pages of Hearth's release build, with wrk.
#
# Pushes BARE_REPO (default: the synthetic repository of git-serve.sh's
# generator, made here) into a fresh server, then runs `wrk -t2 -c16 -d10s`
# against the home, history, tree (root and a folder), blob and commit pages.
# Extra `NAME=URL` arguments after the repository are measured the same way in
# the same run. With PEERS=1, cgit (behind lighttpd's CGI, with its page
# cache on, serving a copy of the same repository) is measured on the same
# pages in the same run.
#
# Env: DURATION (10s), CONNECTIONS (16), KEEP=1 keeps the work directory.
# Needs git, curl, python3, wrk (apt-get install wrk; PEERS=1: lighttpd cgit).
for c in git curl python3 wrk; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
. "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}

SRC=${1:-}
shift || true
if [[ -z $SRC ]]; then
  SRC=$W/synthetic.git
  synthetic_repo "$SRC"
fi
start_hearth
push_repo "$SRC"

# A folder, a 40-80 KB file and a commit ten back on main, as the peers are measured.
git -C "$SRC" ls-tree -r -l main >"$W/ls-tree"
blob=$(awk '$4 > 40000 && $4 < 80000 {print $5; exit}' "$W/ls-tree")
blob=${blob:-$(awk '{print $5; exit}' "$W/ls-tree")}
dir=$(dirname "$blob")
cid=$(git -C "$SRC" rev-parse main~10)
R=$BASE/bench/repo
pages=("home=$R" "log=$R/commits/main" "tree_root=$R/tree/main" "tree_dir=$R/tree/main/$dir"
       "blob=$R/blob/main/$blob" "commit_diff=$R/commit/$cid" "$@")
if [[ -n ${PEERS:-} ]]; then
  start_peers "$SRC"
  peer_versions
  C=$PEER_CGIT_URL
  pages+=("cgit_summary=$C/" "cgit_log=$C/log/" "cgit_tree_root=$C/tree/" "cgit_tree_dir=$C/tree/$dir"
          "cgit_blob=$C/tree/$blob" "cgit_commit=$C/commit/?id=$cid")
fi

printf '%-16s %8s %9s %9s %9s\n' page status req/s p50_ms p99_ms
for page in "${pages[@]}"; do
  name=${page%%=*} url=${page#*=}
  status=$(curl -s -o /dev/null -w '%{http_code}' "$url")
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$url")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  printf '%-16s %8s %9s %9s %9s\n' "$name" "$status" "$rps" "$p50" "$p99"
done
echo "idle RSS after the run: $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$PID/status")"
