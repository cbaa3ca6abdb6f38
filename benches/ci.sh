#!/usr/bin/env bash
# benches/ci.sh [BARE_REPO]: how fast a push starts its workflow.
#
# Pushes BARE_REPO (default: the synthetic repository of lib.sh) into a
# fresh release server, adds a workflow whose one step prints the time, then
# pushes PUSHES (50) commits one after another. For each it measures the time
# from `git push` returning to the step running (negative: the step started
# before git had printed its last line), and the executor's own overhead per
# job: from the job's first log line (before the workspace checkout) to the
# step's first output. Prints the median, p90 and p99 of both.
#
# What the job sandbox costs: with SANDBOX=both (the default) the whole
# measurement runs twice in a row, first with --ci-sandbox off, then with
# the sandbox (bubblewrap), and both results are printed.
#
# What resolving an action adds: with ACTIONS=1 the job first runs a
# composite action of this server (`uses: bench/noop-action@v1`), and the
# time the runner took to find and unpack it is printed too (the first push
# unpacks it; the others find it in data/actions already).
#
# What a built-in step costs: with ARTIFACT=N the job then writes N small
# files and uploads them with actions/upload-artifact, and the upload
# step's time (from its group line to its end) is printed too.
#
# Env: PUSHES (50), SANDBOX (both, on, off), ACTIONS=1, ARTIFACT=N,
# HEARTH_BIN (see lib.sh), KEEP=1. Needs git, curl, python3.
for c in git curl python3; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
if [[ ${SANDBOX:-both} == both ]]; then
  for mode in off on; do
    echo "== --ci-sandbox $mode"
    SANDBOX=$mode "$0" "$@"
  done
  exit 0
fi
export HEARTH_ARGS="--ci-sandbox $SANDBOX ${HEARTH_ARGS:-}"
. "$(dirname "$0")/lib.sh"
PUSHES=${PUSHES:-50}
SRC=${1:-}
if [[ -z $SRC ]]; then
  SRC=$W/synthetic.git
  synthetic_repo "$SRC"
fi
start_hearth
push_repo "$SRC"
git clone -q "${BASE/http:\/\//http://bench:$TOKEN@}/bench/repo.git" "$W/work"
cd "$W/work"
mkdir -p .hearth/workflows
if [[ ${ACTIONS:-} == 1 ]]; then
  curl -sf -H "Authorization: token $TOKEN" -H 'Content-Type: application/json' \
    -d '{"name":"noop-action"}' "$BASE/api/v1/user/repos" >/dev/null
  git init -q "$W/action"
  printf 'name: noop\nruns:\n  using: composite\n  steps:\n    - run: "true"\n      shell: bash\n' >"$W/action/action.yml"
  git -C "$W/action" add -A && git -C "$W/action" commit -qm action && git -C "$W/action" tag v1
  git -C "$W/action" push -q "${BASE/http:\/\//http://bench:$TOKEN@}/bench/noop-action.git" main v1
  use_action='      - uses: bench/noop-action@v1'
fi
cat >.hearth/workflows/bench.yml <<YML
on: push
jobs:
  first:
    steps:
${use_action:-}
      - run: echo "STEP_STARTED \$(date +%s%N)"
YML
if [[ -n ${ARTIFACT:-} ]]; then
  cat >>.hearth/workflows/bench.yml <<YML
      - run: mkdir -p out && for i in \$(seq 1 $ARTIFACT); do echo "file \$i" > out/f\$i.txt; done
      - uses: actions/upload-artifact@v4
        with: { name: files, path: out/ }
YML
fi
# With an upload, each push waits until its job has finished, so each upload runs alone.
wait_for="STEP_STARTED [0-9]"
[[ -n ${ARTIFACT:-} ]] && wait_for="Hearth: job first finished"
git add -A && git commit -qm "Bench workflow" && git push -q origin HEAD:main
sleep 2
for i in $(seq 1 "$PUSHES"); do
  git commit -q --allow-empty -m "Push $i"
  git push -q origin HEAD:main
  echo "$(date +%s%N)" >>"$W/pushed"
  # Wait for this push's step to have run (the first push's run counts too).
  for _ in $(seq 1 2000); do
    done_runs=$( (grep -l "$wait_for" "$W"/data/runs/*/*.log 2>/dev/null || true) | wc -l)
    (( done_runs >= i + 1 )) && break
    sleep 0.01
  done
done
python3 - "$W" "$PUSHES" <<'PY'
import glob, os, re, statistics, sys, datetime
w, n = sys.argv[1], int(sys.argv[2])
pushed = [int(x) for x in open(os.path.join(w, "pushed"))]
logs = sorted(glob.glob(os.path.join(w, "data/runs/*/*.log")), key=lambda p: int(p.split("/")[-2]))
logs = logs[-n:]
def ts(line):
    t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp()
latency, overhead, resolve, upload = [], [], [], []
for push_ns, log in zip(pushed, logs):
    lines = open(log).read().splitlines()
    for l in lines:
        m = re.search(r" is commit \w+ from .* \((\d+) ms\)$", l)
        if m:
            resolve.append(float(m.group(1)))
    group = [i for i, l in enumerate(lines) if l.endswith("::group::Upload an artifact")]
    if group:
        end = next(l for l in lines[group[0]:] if l.endswith("::endgroup::"))
        upload.append((ts(end) - ts(lines[group[0]])) * 1000)
    step = next(l for l in lines if re.search(r"STEP_STARTED \d+$", l))
    step_ns = int(step.rsplit(" ", 1)[1])
    latency.append((step_ns - push_ns) / 1e6)
    overhead.append((ts(step) - ts(lines[0])) * 1000)
def report(name, xs):
    xs = sorted(xs)
    pick = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    print(f"{name:<28} median {statistics.median(xs):8.1f} ms   p90 {pick(0.9):8.1f} ms   p99 {pick(0.99):8.1f} ms   (n={len(xs)})")
report("push returned -> step runs", latency)
report("job start -> step runs", overhead)
if resolve:
    report("finding a cached action", resolve)
if upload:
    report("upload-artifact step", upload)
PY
