#!/usr/bin/env bash
# benches/issues.sh: the issue tracker under load. Fills one repository of a
# fresh release server with ISSUES issues (default 100,000) and three
# comments each on average (300,000), with labels, milestones and assignees,
# written straight into its SQLite database by the generator below; then runs
# `wrk -t2 -c16 -d10s --latency` against the issue list, a filtered list, a
# free-text search and one issue page. Extra `NAME=URL` arguments are measured
# the same way in the same run (another tracker, for comparison). With
# PEERS=1, Fossil's ticket tracker (`fossil server`, a repository of
# FOSSIL_TICKETS tickets, default 2,000, made with `fossil ticket add`) is
# measured in the same run: one ticket page and the ticket report.
#
# Env: ISSUES (100000), DURATION (10s), CONNECTIONS (16), PEERS=1,
# FOSSIL_TICKETS (2000), KEEP=1.
# Needs git, curl, python3 (with its sqlite3 module), wrk (PEERS=1: fossil).
for c in git curl python3 wrk; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done
. "$(dirname "$0")/lib.sh"
ISSUES=${ISSUES:-100000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}

start_hearth
echo 'bench-password' | "$BIN" admin create-user bench --admin --data "$W/data" 2>/dev/null
TOKEN=$("$BIN" admin token bench --data "$W/data")
curl -fs -H "Authorization: token $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"tracker"}' "$BASE/api/v1/user/repos" >/dev/null

echo "generating $ISSUES issues and $((ISSUES * 3)) comments" >&2
python3 - "$W/data/hearth.db" "$ISSUES" "$W/search-words" <<'PY'
import random, sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
# A vocabulary of 5,000 made-up words used with a Zipf distribution, as
# words are in real text: a few very common, most rare.
syllables = "ka lo mi ne ru sa ti vo pe da gu fi ho ze wa bi".split()
words = sorted({a + b + c for a in syllables for b in syllables for c in syllables})[:5000]
rnd.shuffle(words)
weights, total = [], 0.0
for rank in range(len(words)):
    total += 1.0 / (rank + 1)
    weights.append(total)
def text(k):
    return " ".join(rnd.choices(words, cum_weights=weights, k=k))
with open(sys.argv[3], "w") as f:
    f.write(f"{words[40]} {words[90]}\n")
c = sqlite3.connect(db, timeout=60)
c.execute("PRAGMA synchronous=OFF")
repo, user = c.execute("SELECT id, owner_id FROM repos WHERE name = 'tracker'").fetchone()
now = int(time.time())
labels = []
for i, (name, color) in enumerate([("bug", "d73a4a"), ("feature", "0e8a16"), ("docs", "0075ca"), ("ui", "e4e669"), ("perf", "5319e7")]):
    cur = c.execute("INSERT INTO labels (repo_id, name, color) VALUES (?, ?, ?)", (repo, name, color))
    labels.append(cur.lastrowid)
milestones = []
for s in range(1, 11):
    cur = c.execute("INSERT INTO milestones (repo_id, number, title, created_at) VALUES (?, ?, ?, ?)",
                    (repo, s, f"Sprint {s}", now))
    milestones.append(cur.lastrowid)
for number in range(1, n + 1):
    created = now - (n - number) * 60
    title = text(6)
    body = text(40)
    state = "closed" if rnd.random() < 0.6 else "open"
    ncomments = rnd.choice((0, 1, 2, 3, 4, 5, 6))
    cur = c.execute(
        "INSERT INTO issues (repo_id, number, title, body, author_id, state, close_reason, milestone_id, comments, created_at, updated_at, closed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (repo, number, title, body, user, state, "completed" if state == "closed" else None,
         rnd.choice(milestones + [None] * 5), ncomments, created, created + 30, created + 60 if state == "closed" else None))
    issue = cur.lastrowid
    for label in rnd.sample(labels, rnd.choice((0, 1, 1, 2))):
        c.execute("INSERT INTO issue_labels (issue_id, label_id) VALUES (?, ?)", (issue, label))
    if rnd.random() < 0.3:
        c.execute("INSERT INTO issue_assignees (issue_id, user_id) VALUES (?, ?)", (issue, user))
    bodies = [text(25) for _ in range(ncomments)]
    c.executemany("INSERT INTO comments (issue_id, author_id, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                  [(issue, user, b, created + 10 + k, created + 10 + k) for k, b in enumerate(bodies)])
    # Comments are indexed by the triggers of schema 21, one by one.
    c.execute("INSERT INTO issues_fts (rowid, title, body) VALUES (?, ?, ?)", (issue, title, body))
c.commit()
c.execute("ANALYZE")
c.execute("INSERT INTO issues_fts (issues_fts) VALUES ('optimize')")
c.execute("INSERT INTO comments_fts (comments_fts) VALUES ('optimize')")
c.commit()
print("issues", c.execute("SELECT count(*) FROM issues").fetchone()[0],
      "comments", c.execute("SELECT count(*) FROM comments").fetchone()[0], file=sys.stderr)
PY

R=$BASE/bench/tracker
mid=$((ISSUES / 2))
pages=("issue_list=$R/issues" "filtered_list=$R/issues?labels=bug&milestone=Sprint%203&state=all"
       "search=$R/issues?q=$(tr ' ' '+' <"$W/search-words")&state=all" "issue_page=$R/issues/$mid"
       "api_list=$BASE/api/v1/repos/bench/tracker/issues?labels=ui&state=all" "$@")
if [[ -n ${PEERS:-} ]]; then
  command -v fossil >/dev/null || { echo "missing fossil (apt-get install fossil)" >&2; exit 1; }
  n=${FOSSIL_TICKETS:-2000}
  echo "making $n Fossil tickets" >&2
  # Fossil names each change's author after $USER, which a bare shell may lack.
  export USER=${USER:-$(id -un)}
  fossil init "$W/tickets.fossil" >/dev/null
  for i in $(seq "$n"); do
    fossil ticket add -R "$W/tickets.fossil" title "Ticket $i about $(sed -n "$((i % 50 + 1))p" "$W/search-words" 2>/dev/null || echo words)" \
      status Open type Code_Defect comment "What happened in case $i, and what was expected instead." >/dev/null
  done
  uuid=$(fossil sql -R "$W/tickets.fossil" "SELECT tkt_uuid FROM ticket LIMIT 1 OFFSET $((n / 2))" | tr -d "'")
  fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  fossil server --localhost --port "$fport" "$W/tickets.fossil" >/dev/null 2>&1 &
  FOSSIL_PID=$!
  trap 'kill $FOSSIL_PID 2>/dev/null; peers_cleanup' EXIT
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$fport/" >/dev/null 2>&1 && break; sleep 0.05; done
  echo "peer: $(fossil version | cut -d' ' -f1-5)"
  pages+=("fossil_ticket=http://127.0.0.1:$fport/tktview?name=$uuid" "fossil_report=http://127.0.0.1:$fport/rptview?rn=1")
fi
# first_ms: the first request, before anything is cached.
printf '%-14s %8s %9s %9s %9s %9s\n' page status first_ms req/s p50_ms p99_ms
for page in "${pages[@]}"; do
  name=${page%%=*} url=${page#*=}
  read -r status first < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$url")
  first=$(awk -v s="$first" 'BEGIN {printf "%.1f", s * 1000}')
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$url")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  printf '%-14s %8s %9s %9s %9s %9s\n' "$name" "$status" "$first" "$rps" "$p50" "$p99"
done
echo "RSS after the run: $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$PID/status")"
