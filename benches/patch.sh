#!/usr/bin/env bash
# benches/patch.sh: what a large commit's `.patch` costs the server.
#
# Makes a repository whose second commit changes FILES (3,000) files of
# LINES (200) lines each (600,000 diff lines: past a download's 300,000),
# pushes it into a fresh release server, then fetches that commit's .patch
# once, then AT_ONCE (3) times at once, each with the page cache cold (a
# download over 1 MiB is not kept). For each round it prints the time to
# the first byte and to the last, the bytes, and how much the server's
# peak resident memory grew (VmHWM, reset before each round). HEARTH_BIN
# (see lib.sh) measures another build, for a before and after in one run.
#
# Env: FILES (3000), LINES (200), AT_ONCE (3), HEARTH_BIN, KEEP=1. Needs git, curl, python3.
for c in git curl python3; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
. "$(dirname "$0")/lib.sh"
FILES=${FILES:-3000}
LINES=${LINES:-200}
AT_ONCE=${AT_ONCE:-3}
git init -q "$W/src"
python3 - "$W/src" "$FILES" "$LINES" 0 <<'PY'
import os, sys
root, files, lines, round_ = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for f in range(files):
    d = os.path.join(root, f"dir{f % 50}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{f}.txt"), "w") as out:
        out.writelines(f"line {i} of file {f}, version {round_}\n" for i in range(lines))
PY
git -C "$W/src" add -A && git -C "$W/src" commit -qm "First"
python3 - "$W/src" "$FILES" "$LINES" 1 <<'PY'
import os, sys
root, files, lines, round_ = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for f in range(files):
    with open(os.path.join(root, f"dir{f % 50}", f"file{f}.txt"), "w") as out:
        out.writelines(f"line {i} of file {f}, version {round_}\n" for i in range(lines))
PY
git -C "$W/src" commit -qam "Every line of every file"
sha=$(git -C "$W/src" rev-parse HEAD)
git clone -q --bare "$W/src" "$W/src.git"
start_hearth
push_repo "$W/src.git"
echo "$("$BIN" --version), a commit of $FILES files x $LINES lines changed"
hwm() { awk '/VmHWM/ {print $2}' "/proc/$PID/status"; }
for n in 1 "$AT_ONCE"; do
  echo 5 >"/proc/$PID/clear_refs"
  before=$(hwm)
  for i in $(seq 1 "$n"); do
    curl -s -o "$W/patch-$i" -w "%{time_starttransfer} %{time_total} %{size_download} %{http_code}\n" \
      "$BASE/bench/repo/commit/$sha.patch" >"$W/timing-$i" &
  done
  wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
  after=$(hwm)
  python3 - "$W" "$n" "$before" "$after" <<'PY'
import sys
w, n, before, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [open(f"{w}/timing-{i}").read().split() for i in range(1, n + 1)]
first = max(float(r[0]) for r in rows) * 1000
last = max(float(r[1]) for r in rows) * 1000
size = max(int(r[2]) for r in rows)
codes = ",".join(sorted({r[3] for r in rows}))
print(f"{n} at once: first byte {first:7.0f} ms, last byte {last:7.0f} ms, {size / 2**20:5.1f} MiB each (HTTP {codes}), peak memory +{(after - before) / 1024:6.1f} MiB")
PY
done
