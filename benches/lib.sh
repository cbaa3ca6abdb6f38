# Shared by the benchmark scripts: source it. Builds the release binary,
# makes a work directory (removed on exit unless KEEP=1), isolates git's
# configuration, and offers:
#   synthetic_repo DEST      a bare repository of 2,000 commits over 200 folders
#   start_hearth             the release server on a free port (with the extra
#                            arguments of HEARTH_ARGS): sets BASE, PID
#   push_repo SRC            pushes SRC --mirror into bench/repo: sets URL, TOKEN
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# HEARTH_BIN: another build to measure (an older commit's, for a before
# and after in one run); by default this checkout's, built now.
if [[ -n ${HEARTH_BIN:-} ]]; then
  BIN=$HEARTH_BIN
else
  (cd "$here" && cargo build --release --quiet)
  BIN=$here/target/release/hearth
fi
W=$(mktemp -d /tmp/hearth-bench.XXXXXX)
bench_cleanup() {
  [[ -n ${PID:-} ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [[ -n ${KEEP:-} ]] && echo "kept $W" >&2 || rm -rf "$W"
}
trap bench_cleanup EXIT
export HOME=$W/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME"
git config --global user.name Bench
git config --global user.email bench@example.test
git config --global init.defaultBranch main

synthetic_repo() {
  local dest=$1
  echo "making a synthetic repository (2,000 commits)" >&2
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
  git init -q --bare "$dest"
  git -C "$dest" fast-import --quiet <"$W/stream"
  git -C "$dest" repack -adq
}

start_hearth() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  BASE=http://127.0.0.1:$port
  # Its own session, so signals sent to this script's process group miss it.
  # shellcheck disable=SC2086
  setsid "$BIN" serve --data "$W/data" --listen "127.0.0.1:$port" ${HEARTH_ARGS:-} 2>"$W/server.log" &
  PID=$!
  for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "hearth did not start; see $W/server.log" >&2
  return 1
}

push_repo() {
  echo 'bench-password' | "$BIN" admin create-user bench --admin --data "$W/data" 2>/dev/null
  TOKEN=$("$BIN" admin token bench --data "$W/data")
  curl -fs -H "Authorization: token $TOKEN" -H 'Content-Type: application/json' \
    -d '{"name":"repo"}' "$BASE/api/v1/user/repos" >/dev/null
  git -C "$1" push -q --mirror "${BASE/http:\/\//http://bench:$TOKEN@}/bench/repo.git"
  URL=$BASE/bench/repo.git
}

# The peers, for side-by-side figures in the same run (Debian packages:
# lighttpd, cgit; git's own http-backend). Each serves a copy of BARE_REPO
# on 127.0.0.1 through lighttpd's CGI, and is stopped on exit.
#   start_peers BARE_REPO    sets PEER_GIT_URL (git http-backend) and
#                            PEER_CGIT_URL (cgit's page of the repository)
#   peer_versions            one line naming each peer and its version
start_peers() {
  for c in lighttpd; do command -v $c >/dev/null || { echo "missing $c (apt-get install lighttpd cgit)" >&2; return 1; }; done
  [[ -x /usr/lib/cgit/cgit.cgi ]] || { echo "missing cgit (apt-get install cgit)" >&2; return 1; }
  local root=$W/peer port
  mkdir -p "$root/cache"
  git clone -q --mirror "$1" "$root/repo.git"
  git -C "$root/repo.git" config http.receivepack true
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$root/cgitrc" <<CGIT
cache-size=1000
cache-root=$root/cache
virtual-root=/cgit/
repo.url=repo.git
repo.path=$root/repo.git
CGIT
  cat >"$root/lighttpd.conf" <<CONF
server.document-root = "$root"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$root/error.log"
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
alias.url = ("/git" => "$(git --exec-path)/git-http-backend", "/cgit" => "/usr/lib/cgit/cgit.cgi")
\$HTTP["url"] =~ "^/git" {
  cgi.assign = ("" => "")
  setenv.add-environment = ("GIT_PROJECT_ROOT" => "$root", "GIT_HTTP_EXPORT_ALL" => "")
}
\$HTTP["url"] =~ "^/cgit" {
  cgi.assign = ("" => "")
  setenv.add-environment = ("CGIT_CONFIG" => "$root/cgitrc")
}
CONF
  lighttpd -D -f "$root/lighttpd.conf" &
  PEER_PID=$!
  PEER_GIT_URL=http://127.0.0.1:$port/git/repo.git
  PEER_CGIT_URL=http://127.0.0.1:$port/cgit/repo.git
  for _ in $(seq 100); do curl -fs "$PEER_GIT_URL/info/refs?service=git-upload-pack" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "the peers did not start; see $root/error.log" >&2
  return 1
}

peer_versions() {
  echo "peers: $(git --version | sed 's/git version/git http-backend/'), $(dpkg-query -W -f='cgit ${Version}' cgit 2>/dev/null), $(lighttpd -v 2>/dev/null | cut -d' ' -f1 | tr / ' ') (CGI)"
}

peers_cleanup() {
  [[ -n ${PEER_PID:-} ]] && kill "$PEER_PID" 2>/dev/null && wait "$PEER_PID" 2>/dev/null
  bench_cleanup
}
trap peers_cleanup EXIT
