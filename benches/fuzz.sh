#!/usr/bin/env bash
# benches/fuzz.sh [SECONDS] [TARGET...]: runs each cargo-fuzz target of
# fuzz/ (default: all) for SECONDS (default 600), one after another, each
# from its seeds (fuzz/seeds/TARGET) and the corpus earlier runs kept
# (fuzz/corpus/TARGET). Prints, per target, how many inputs it tried and
# whether it found a crash; a crash's input is kept in fuzz/artifacts/ and
# the script exits non-zero. Not part of `cargo test` (it needs nightly).
#
# Env: JOBS (1) targets at once.
# Needs: a nightly toolchain (rustup toolchain install nightly) and
# cargo-fuzz (cargo install cargo-fuzz); installs cargo-fuzz if missing.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo +nightly fuzz list)
cargo +nightly fuzz build
mkdir -p logs
# One target: its verdict on stdout, exit status 1 on a crash.
fuzz_one() {
  local t=$1 log=logs/$1.log verdict runs
  mkdir -p "corpus/$t" "seeds/$t"
  if cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    verdict=clean
  else
    verdict="CRASH (see fuzz/$log and fuzz/artifacts/$t)"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  echo "$t: ${seconds}s, $runs inputs, $verdict"
  [[ $verdict == clean ]]
}
# JOBS targets at a time (default 1; one core each).
failed=0 running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if ((running >= ${JOBS:-1})); then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done
exit $failed
