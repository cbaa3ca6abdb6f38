#!/usr/bin/env bash
# benches/deploy.sh: what delivery costs, on Hearth's release build.
#
# 1. A rolling deploy's own cost. `uses: hearth/deploy` puts a small
#    artifact on three targets whose five hooks do nothing (`true`), one at
#    a time, DEPLOYS (5) times: to local targets (--deploy-dir), and, when
#    this runs as root with sshd installed, to three folders on a loopback
#    sshd. Prints the deploy step's time per target (median and max over
#    the deploys, from the job log's timestamps). For comparison, the same
#    work by hand in one `run:` step (tar, ln, mv for three folders).
# 2. The pipeline and environments pages at 1,000 deployments: 100 pushes,
#    each run deploying to ten environments, then `wrk --latency` against
#    /pipeline and /environments with one client, then CONNECTIONS at once.
#
# Env: DEPLOYS (5), DURATION (10s), CONNECTIONS (16), PAGES_ONLY=1 (part 2
# only), KEEP=1.
# Needs git, curl, python3, wrk; for ssh targets openssh-server and root.
for c in git curl python3 wrk; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
. "$(dirname "$0")/lib.sh"
DEPLOYS=${DEPLOYS:-5}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

HEARTH_ARGS="--deploy-dir $W/deploy ${HEARTH_ARGS:-}" start_hearth
echo 'bench-password' | "$BIN" admin create-user bench --admin --data "$W/data" 2>/dev/null
TOKEN=$("$BIN" admin token bench --data "$W/data")
api() { curl -fs -H "Authorization: token $TOKEN" -H 'Content-Type: application/json' "$@"; }
api -d '{"name":"repo"}' "$BASE/api/v1/user/repos" >/dev/null
R=$BASE/api/v1/repos/bench/repo
mkdir -p "$W/work" && cd "$W/work" && git init -q
git remote add origin "${BASE/http:\/\//http://bench:$TOKEN@}/bench/repo.git"

wait_runs() { # wait_runs N: until there are N runs and the newest has completed
  for _ in $(seq 6000); do
    n=$(api "$R/actions/runs?per_page=1" | python3 -c 'import json,sys; r=json.load(sys.stdin); w=r["workflow_runs"]; print(r["total_count"] if w and w[0]["status"]=="completed" else 0)')
    (( n >= $1 )) && return 0
    sleep 0.2
  done
  echo "runs did not complete" >&2; return 1
}
mkdir -p .hearth/workflows

if [[ -z ${PAGES_ONLY:-} ]]; then
# The app: a few files and hooks that do nothing.
mkdir -p app/hooks && echo 'true' >app/hooks/noop.sh && seq 1000 >app/data.txt
{ echo 'version: 0.0'; echo 'hooks:'
  for h in ApplicationStop BeforeInstall AfterInstall ApplicationStart ValidateService; do
    echo "  $h: [{location: hooks/noop.sh}]"; done; } >app/appspec.yml

targets="local:t1 local:t2 local:t3"
ssh_with=""
if [[ $(id -u) == 0 && -x /usr/sbin/sshd ]]; then
  S=$W/sshd && mkdir -p "$S" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$S/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$S/client_key"
  cp "$S/client_key.pub" "$S/authorized_keys"
  sport=$(free_port)
  printf '%s\n' "Port $sport" "ListenAddress 127.0.0.1" "HostKey $S/host_key" "AuthorizedKeysFile $S/authorized_keys" \
    "PasswordAuthentication no" "PermitRootLogin prohibit-password" "StrictModes no" "UsePAM no" "PidFile $S/pid" >"$S/config"
  /usr/sbin/sshd -f "$S/config" -E "$S/log"
  trap 'kill "$(cat "$S/pid" 2>/dev/null)" 2>/dev/null; bench_cleanup' EXIT
  api -X PUT -d '{}' "$R/environments/ssh" >/dev/null
  python3 - "$S/client_key" >"$W/key.json" <<'PY'
import json, sys; print(json.dumps({"value": open(sys.argv[1]).read()}))
PY
  api -X PUT -d @"$W/key.json" "$R/environments/ssh/secrets/KEY" >/dev/null
  python3 - "$sport" "$S/host_key.pub" >"$W/kh.json" <<'PY'
import json, sys; print(json.dumps({"name": "KNOWN_HOSTS", "value": f"[127.0.0.1]:{sys.argv[1]} " + open(sys.argv[2]).read().strip()}))
PY
  api -d @"$W/kh.json" "$R/environments/ssh/variables" >/dev/null
  ssh_with=yes
fi

job() { # job KEY ENVIRONMENT TARGETS...
  local key=$1 env=$2; shift 2
  printf '  %s:\n    needs: build\n    environment: %s\n    steps:\n      - uses: hearth/deploy\n        with:\n          artifact: app\n' "$key" "$env"
  [[ $env == ssh ]] && printf '          ssh-key: ${{ secrets.KEY }}\n          known-hosts: ${{ vars.KNOWN_HOSTS }}\n'
  printf '          targets: |\n'
  for t in "$@"; do printf '            %s\n' "$t"; done
}
mkdir -p .hearth/workflows
{
  printf 'on: push\njobs:\n  build:\n    steps:\n      - uses: actions/upload-artifact@v4\n        with:\n          name: app\n          path: app/\n'
  printf '  by_hand:\n    needs: build\n    steps:\n      - uses: actions/download-artifact@v4\n        with:\n          name: app\n          path: bundle\n'
  printf '      - name: by hand\n        run: |\n          tar -czf /tmp/app.tgz -C bundle .\n'
  printf '          for t in 1 2 3; do d=$RUNNER_TEMP/t$t; mkdir -p $d/releases/r$GITHUB_RUN_NUMBER\n'
  printf '            tar -xzf /tmp/app.tgz -C $d/releases/r$GITHUB_RUN_NUMBER; ln -sfn releases/r$GITHUB_RUN_NUMBER $d/c.new; mv -T $d/c.new $d/current; done\n'
  job local local $targets
  if [[ -n $ssh_with ]]; then
    job ssh ssh "ssh://root@127.0.0.1:$sport$W/ssh-t1" "ssh://root@127.0.0.1:$sport$W/ssh-t2" "ssh://root@127.0.0.1:$sport$W/ssh-t3"
  fi
} >.hearth/workflows/deploy.yml

git add -A && git commit -qm "Deploy" && git push -q origin HEAD:main
for i in $(seq 2 "$DEPLOYS"); do
  wait_runs $((i - 1))
  git commit -q --allow-empty -m "Deploy $i" && git push -q origin HEAD:main
done
wait_runs "$DEPLOYS"
echo "== a rolling deploy of three targets, five no-op hooks each ($DEPLOYS deploys)"
python3 - "$W/data/runs" <<'PY'
import datetime, glob, os, statistics, sys
def ts(line):
    return datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
times = {}
for log in glob.glob(os.path.join(sys.argv[1], "*/*.log")):
    lines = open(log).read().splitlines()
    for i, l in enumerate(lines):
        if l.endswith("::group::Deploy") or l.endswith("::group::by hand"):
            end = next(m for m in lines[i:] if m.endswith("::endgroup::"))
            kind = "by hand, one run: step" if "by hand" in l else None
            if kind is None:
                first = next((m for m in lines[i:] if "deploy: batch 1: " in m), "")
                kind = "hearth/deploy, ssh" if "ssh://" in first else "hearth/deploy, local"
            failed = any("failed" in m for m in lines[i:lines.index(end, i)])
            if not failed:
                times.setdefault(kind, []).append((ts(end) - ts(l)) * 1000 / 3)
for kind, xs in sorted(times.items()):
    print(f"{kind:<24} per target: median {statistics.median(xs):7.1f} ms   max {max(xs):7.1f} ms   (n={len(xs)})")
PY
fi

# 2. 1,000 deployments, then the pages: 100 commits, each deployed to ten
# environments (each run waits for the one before, as a team's would).
cat >.hearth/workflows/deploy.yml <<'YML'
on: push
jobs:
  deploy:
    strategy:
      matrix:
        environment: [dev, test, qa, beta, gamma, staging, canary, prod-eu, prod-us, prod-ap]
    environment: ${{ matrix.environment }}
    steps:
      - run: "true"
YML
before=$(api "$R/actions/runs?per_page=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_count"])')
git add -A && git commit -qm "Many 1" && git push -q origin HEAD:main
for i in $(seq 2 100); do
  wait_runs $((before + i - 1))
  git commit -q --allow-empty -m "Many $i" && git push -q origin HEAD:main
done
wait_runs $((before + 100))
deployments=$(sqlite3 "$W/data/hearth.db" 'SELECT count(*) FROM deployments' 2>/dev/null ||
  python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM deployments').fetchone()[0])" "$W/data/hearth.db")
echo "== pages at $deployments deployments (wrk -t2 -d$DURATION, one client, then $CONNECTIONS at once)"
printf '%-14s %8s %12s %9s %9s %9s\n' page status connections req/s p50_ms p99_ms
for page in pipeline environments; do
  url=$BASE/bench/repo/$page
  status=$(curl -s -o /dev/null -w '%{http_code}' "$url")
  for c in 1 "$CONNECTIONS"; do
    out=$(wrk -t"$(( c < 2 ? 1 : 2 ))" -c"$c" -d"$DURATION" --latency "$url")
    printf '%-14s %8s %12s %9s %9s %9s\n' "$page" "$status" "$c" "$(awk '/^Requests\/sec/ {print $2}' <<<"$out")" \
      "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
  done
done
