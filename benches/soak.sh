#!/usr/bin/env bash
# benches/soak.sh [SECONDS]: everything at once for a while, then the
# "nothing lost" checks.
#
# Starts the release server, pushes the synthetic repository of lib.sh with
# a workflow that runs on every push, then for SECONDS (default 600) keeps
# all of these going at once on loopback:
#   clones      full clones over smart HTTP (CLONERS, 2)
#   pushes      a commit each, to a branch of its own (PUSHERS, 2), and to
#               one contended branch that CONTENDERS (2) push to together
#               (a rejected push fetches, rebases and tries again)
#   pages       the repository's pages: home, tree, blob, history, commit,
#               issues, an issue, runs (READERS, 4)
#   api         issues and comments written, lists read (WRITERS, 2)
#   ci jobs     every push runs the workflow (one job, two steps)
# Then it waits for CI to work through its queue (pushes come faster than
# jobs run; it waits as long as runs keep finishing), stops the server and
# checks: every issue and comment that got a 201 is there; every push git
# called ok is in its branch's history; every pushed commit has exactly one
# run, and all runs finished; `git fsck --strict` and `PRAGMA
# integrity_check` pass. Prints, per kind of operation, how many, per
# second, p50 and p99 latency and errors (for CI runs: from the push to the
# result, queue included), how long the queue took to empty, and the
# server's peak RSS. Exits non-zero when a check fails.
#
# Env: CLONERS, PUSHERS, CONTENDERS, READERS, WRITERS, KEEP=1. Needs git,
# curl, python3.
for c in git curl python3; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
seconds=${1:-600}
. "$(dirname "$0")/lib.sh"

synthetic_repo "$W/src.git"
start_hearth
push_repo "$W/src.git"
git clone -q "${URL/http:\/\//http://bench:$TOKEN@}" "$W/seed"
mkdir -p "$W/seed/.hearth/workflows"
cat >"$W/seed/.hearth/workflows/soak.yml" <<'EOF'
on: push
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - run: echo "checking $GITHUB_SHA"
      - run: test -f README.md || ls | head -3
EOF
git -C "$W/seed" add -A
git -C "$W/seed" commit -qm "Soak workflow"
git -C "$W/seed" push -q origin main

echo "soaking for ${seconds}s ($(nproc) cores)" >&2
python3 - "$seconds" "$BASE" "$TOKEN" "$W" "$PID" <<'PY'
import json, os, random, shutil, sqlite3, statistics, subprocess, sys, threading, time
import urllib.request, urllib.error

seconds, base, token, work, pid = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
auth_url = base.replace("http://", f"http://bench:{token}@") + "/bench/repo.git"
env = dict(os.environ)
end = time.time() + seconds
lock = threading.Lock()
times = {}      # kind -> [seconds]
errors = {}     # kind -> count
acked = {"issues": set(), "comments": set(), "pushes": {}}   # pushes: branch -> [sha]

def note(kind, took, ok):
    with lock:
        times.setdefault(kind, [])
        errors.setdefault(kind, 0)
        if ok:
            times[kind].append(took)
        else:
            errors[kind] += 1

def git(*args, cwd=None, check=True):
    r = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {r.stderr.strip()}")
    return r

def api(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read() or b"null")

def timed(kind, f):
    t = time.time()
    try:
        ok = f()
    except Exception as e:
        ok = False
        with lock:
            print(f"{kind}: {e}"[:300], file=sys.stderr)
    note(kind, time.time() - t, ok is not False)

def cloner(n):
    k = 0
    while time.time() < end:
        dest = f"{work}/clone-{n}-{k}"
        timed("clone", lambda: git("clone", "-q", "--no-checkout", auth_url, dest) and True)
        shutil.rmtree(dest, ignore_errors=True)
        k += 1

def pusher(name, branch):
    dest = f"{work}/push-{name}"
    git("clone", "-q", auth_url, dest)
    git("checkout", "-q", "-B", branch, cwd=dest)
    k = 0
    while time.time() < end:
        with open(f"{dest}/soak-{name}.txt", "w") as f:
            f.write(f"{name} {k}\n")
        git("add", "-A", cwd=dest)
        git("commit", "-qm", f"{name} {k}", cwd=dest)
        def push():
            for _ in range(20):
                r = git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=dest, check=False)
                if r.returncode == 0:
                    sha = git("rev-parse", "HEAD", cwd=dest).stdout.strip()
                    with lock:
                        acked["pushes"].setdefault(branch, []).append(sha)
                    return True
                # Someone else pushed first: take theirs and go on top.
                git("pull", "-q", "--rebase", "origin", branch, cwd=dest, check=False)
            return False
        timed("push" if branch != "contended" else "push (contended)", push)
        k += 1
        time.sleep(0.2)

def reader(n):
    head = git("ls-remote", auth_url, "refs/heads/main").stdout.split()[0]
    pages = ["/bench/repo", "/bench/repo/tree/main/src", "/bench/repo/blob/main/src/mod1/file1.py",
             "/bench/repo/commits/main", f"/bench/repo/commit/{head}", "/bench/repo/issues",
             "/bench/repo/issues/1", "/bench/repo/runs", "/bench/repo/pulls"]
    while time.time() < end:
        path = random.choice(pages)
        def get():
            with urllib.request.urlopen(base + path, timeout=30) as r:
                r.read()
                return r.status == 200
        timed("page", get)

def write(kind, path, body, text):
    """POSTs `body`; on a 201 `text` is acknowledged as one of `kind`."""
    s, _ = api("POST", path, body)
    if s == 201:
        with lock:
            acked[kind].add(text)
    return s == 201

def writer(n):
    k = 0
    while time.time() < end:
        title, text = f"soak {n}-{k}", f"comment {n}-{k}"
        timed("api write", lambda: write("issues", "/api/v1/repos/bench/repo/issues", {"title": title}, title))
        timed("api write", lambda: write("comments", "/api/v1/repos/bench/repo/issues/1/comments", {"body": text}, text))
        timed("api read", lambda: api("GET", "/api/v1/repos/bench/repo/issues?per_page=30")[0] == 200)
        k += 1

api("POST", "/api/v1/repos/bench/repo/issues", {"title": "the thread"})
threads = [threading.Thread(target=cloner, args=(i,)) for i in range(int(os.environ.get("CLONERS", 2)))]
threads += [threading.Thread(target=pusher, args=(f"own{i}", f"soak-{i}")) for i in range(int(os.environ.get("PUSHERS", 2)))]
threads += [threading.Thread(target=pusher, args=(f"c{i}", "contended")) for i in range(int(os.environ.get("CONTENDERS", 2)))]
threads += [threading.Thread(target=reader, args=(i,)) for i in range(int(os.environ.get("READERS", 4)))]
threads += [threading.Thread(target=writer, args=(i,)) for i in range(int(os.environ.get("WRITERS", 2)))]
started = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.time() - started

def paged(path, key=None):
    out, page = [], 1
    while True:
        sep = "&" if "?" in path else "?"
        _, body = api("GET", f"{path}{sep}per_page=100&page={page}")
        items = body[key] if key else body
        if not items:
            return out
        out += items
        page += 1

# CI works through the runs still queued, for as long as it keeps
# finishing them (a minute without one finished is a stall, and fails).
load_ended, finished, progress = time.time(), -1, time.time()
while True:
    runs = paged("/api/v1/repos/bench/repo/actions/runs", "workflow_runs")
    done = sum(1 for r in runs if r["status"] == "completed")
    if done == len(runs):
        break
    if done > finished:
        finished, progress = done, time.time()
    elif time.time() - progress > 60:
        break
    time.sleep(2)
drained = time.time() - load_ended
with open(f"/proc/{pid}/status") as f:
    peak = next(l.split()[1] for l in f if l.startswith("VmHWM:"))

failures = []
issues = {i["title"] for i in paged("/api/v1/repos/bench/repo/issues?state=all")}
comments = {c["body"] for c in paged("/api/v1/repos/bench/repo/issues/1/comments")}
if acked["issues"] - issues:
    failures.append(f"{len(acked['issues'] - issues)} acknowledged issues lost")
if acked["comments"] - comments:
    failures.append(f"{len(acked['comments'] - comments)} acknowledged comments lost")
check = f"{work}/check"
git("clone", "-q", "--mirror", auth_url, check)
for branch, shas in acked["pushes"].items():
    for sha in shas:
        if git("merge-base", "--is-ancestor", sha, f"refs/heads/{branch}", cwd=check, check=False).returncode != 0:
            failures.append(f"{branch}: the acknowledged push {sha} is not in its history")
per_sha = {}
for r in runs:
    if r["event"] == "push":
        per_sha[r["head_sha"]] = per_sha.get(r["head_sha"], 0) + 1
unfinished = sum(1 for r in runs if r["status"] != "completed")
if unfinished:
    failures.append(f"{unfinished} runs did not finish")
doubled = [s for s, n in per_sha.items() if n > 1]
if doubled:
    failures.append(f"{len(doubled)} commits with more than one run")
missing = [s for shas in acked["pushes"].values() for s in shas if s not in per_sha]
if missing:
    failures.append(f"{len(missing)} acknowledged pushes without a run")
repo_dir = f"{work}/data/repos/bench/repo.git"
fsck = subprocess.run(["git", "-C", repo_dir, "fsck", "--strict", "--no-progress"], env=env, capture_output=True, text=True)
if fsck.returncode != 0:
    failures.append(f"git fsck: {fsck.stderr.strip()[:300]}")
os.kill(pid, 15)
for _ in range(100):
    try:
        os.kill(pid, 0)
        time.sleep(0.1)
    except ProcessLookupError:
        break
integrity = sqlite3.connect(f"{work}/data/hearth.db").execute("PRAGMA integrity_check").fetchone()[0]
if integrity != "ok":
    failures.append(f"integrity_check: {integrity}")

def ms(x):
    return f"{x * 1000:.1f}"
print(f"soak: {elapsed:.0f} s, {os.cpu_count()} cores, loopback")
print(f"| operation | count | per second | p50 ms | p99 ms | errors |")
print(f"| --- | --- | --- | --- | --- | --- |")
for kind in sorted(times):
    t = sorted(times[kind])
    if t:
        p99 = t[min(len(t) - 1, int(len(t) * 0.99))]
        print(f"| {kind} | {len(t)} | {len(t) / elapsed:.1f} | {ms(statistics.median(t))} | {ms(p99)} | {errors[kind]} |")
    else:
        print(f"| {kind} | 0 | 0 | - | - | {errors[kind]} |")
# A run's latency: from the push that made it to its result, queue included.
def at(stamp):
    return time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
took = sorted(at(r["updated_at"]) - at(r["created_at"]) for r in runs if r["status"] == "completed")
if took:
    p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
    print(f"| ci run, push to result | {len(took)} | {len(took) / (elapsed + drained):.2f} | "
          f"{statistics.median(took) * 1000:.0f} | {p99 * 1000:.0f} | "
          f"{sum(1 for r in runs if r['conclusion'] != 'success')} not successful |")
print(f"the CI queue emptied {drained:.0f} s after the load stopped")
pushes = sum(len(v) for v in acked["pushes"].values())
print(f"acknowledged: {len(acked['issues'])} issues, {len(acked['comments'])} comments, {pushes} pushes; server peak RSS {int(peak) // 1024} MB")
if failures:
    print("FAILED: " + "; ".join(failures))
    sys.exit(1)
print("nothing lost: every acknowledged write is there, every push has one run, fsck and integrity_check pass")
PY
