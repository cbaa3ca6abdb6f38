#!/usr/bin/env bash
# benches/pulls.sh [BARE_REPO]: latency of a pull request's pages on
# Hearth's release build, with wrk.
#
# Pushes BARE_REPO (default: the synthetic repository of 2,000 commits made
# here) into a fresh server, pushes a branch that changes 50 files (about
# 20 lines each) and opens a pull request for it with a review and three
# line comments, then runs `wrk -t2 -c16 -d10s --latency` against the
# conversation page, the files changed page, the commits page and the
# API's pull request and files, after one request each (steady state). The
# commit page of a commit with the same change is measured in the same run.
#
# Env: DURATION (10s), CONNECTIONS (16), KEEP=1 keeps the work directory.
# Needs git, curl, python3, wrk (apt-get install wrk).
for c in git curl python3 wrk; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
. "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}

SRC=${1:-}
if [[ -z $SRC ]]; then
  SRC=$W/synthetic.git
  synthetic_repo "$SRC"
fi
start_hearth
push_repo "$SRC"
PUSH=${BASE/http:\/\//http://bench:$TOKEN@}/bench/repo.git

# The change: 50 files, each with about 20 changed lines in two places.
git clone -q "$PUSH" "$W/work"
git -C "$W/work" checkout -q -b change
git -C "$W/work" ls-files >"$W/all-files"
head -50 "$W/all-files" >"$W/files"
python3 - "$W/work" "$W/files" <<'PY'
import sys, pathlib
root = pathlib.Path(sys.argv[1])
for name in open(sys.argv[2]).read().split():
    p = root / name
    lines = p.read_text().splitlines()
    for i in list(range(2, 12)) + list(range(len(lines) // 2, len(lines) // 2 + 10)):
        if i < len(lines):
            lines[i] = lines[i] + "  # changed"
    p.write_text("\n".join(lines) + "\n")
PY
git -C "$W/work" commit -qam "Change 50 files"
git -C "$W/work" push -q "$PUSH" change
api() { curl -fs -H "Authorization: token $TOKEN" -H 'Content-Type: application/json' "$@"; }
number=$(api -d '{"title":"Change 50 files","head":"change","base":"main","body":"A change for the benchmark."}' \
  "$BASE/api/v1/repos/bench/repo/pulls" | python3 -c 'import json,sys; print(json.load(sys.stdin)["number"])')
first=$(head -1 "$W/files")
api -d "{\"event\":\"COMMENT\",\"body\":\"Some notes\",\"comments\":[{\"path\":\"$first\",\"line\":3,\"body\":\"One\"},{\"path\":\"$first\",\"line\":4,\"body\":\"Two\"},{\"path\":\"$first\",\"line\":5,\"body\":\"Three\"}]}" \
  "$BASE/api/v1/repos/bench/repo/pulls/$number/reviews" >/dev/null
cid=$(git -C "$W/work" rev-parse HEAD)

R=$BASE/bench/repo
A=$BASE/api/v1/repos/bench/repo
pages=("conversation=$R/pulls/$number" "files=$R/pulls/$number/files" "commits=$R/pulls/$number/commits"
       "api_pull=$A/pulls/$number" "api_files=$A/pulls/$number/files" "commit_page=$R/commit/$cid")

printf '%-14s %8s %10s %9s %9s %9s\n' page status first_ms req/s p50_ms p99_ms
for page in "${pages[@]}"; do
  name=${page%%=*} url=${page#*=}
  first=$(curl -s -o /dev/null -w '%{time_total}' "$url" | awk '{printf "%.1f", $1 * 1000}')
  status=$(curl -s -o /dev/null -w '%{http_code}' "$url")
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$url")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  printf '%-14s %8s %10s %9s %9s %9s\n' "$name" "$status" "$first" "$rps" "$p50" "$p99"
done
echo "RSS after the run: $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$PID/status")"
