#!/usr/bin/env bash
# Peer-client matrix: real third-party Kafka clients driven against a broker.
#
# Usage:
#   scripts/peers.sh install [--peers a,b,c]
#       Idempotent installs into ${KAFKA_SUITE_CACHE:-~/.cache/kafka-suite}:
#         python-confluent, python-kafka  venv peers-venv (confluent-kafka, kafka-python)
#         kcat                            apt-get install kcat (skipped if unavailable)
#         node                            kafkajs via npm ci into peers/node/node_modules
#         go                              franz-go program built to peers-bin/franz-go-peer
#                                         (+ peers-bin/franz-go-perf for producer-bench.sh)
#         java                            kafka-clients program built to peers-java/
#   scripts/peers.sh run --bootstrap HOST:PORT [--peers a,b,c] [--records N] [--out FILE]
#                        [--expect-fail case1,peer/case2,...]
#       Runs each (installed) peer with unique topic/group names, prints one JSON
#       line per case to FILE (default target/peers/results.jsonl) and a table
#       peer x case -> pass/FAIL/skip. Exits non-zero if any case failed, or if an
#       explicitly requested peer is not installed. Cases named by --expect-fail
#       (for every peer, or peer/case for one) are known-missing features: their
#       failures show as `xfail` and are listed, but do not fail the run; if one
#       passes it shows as `XPASS` (also not a failure) so the list can be trimmed.
#   scripts/peers.sh list
#       Lists peers and whether each is installed.
#
# Environment: KAFKA_SUITE_CACHE, PEERS_TIMEOUT (seconds per peer, default 420).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
PEERS_DIR="$REPO_ROOT/peers"
CACHE="${KAFKA_SUITE_CACHE:-$HOME/.cache/kafka-suite}"
VENV="$CACHE/peers-venv"
BIN_DIR="$CACHE/peers-bin"
JAVA_OUT="$CACHE/peers-java"
ALL_PEERS=(python-confluent python-kafka kcat node go java)
PEER_TIMEOUT="${PEERS_TIMEOUT:-420}"

# Pinned client versions (also pinned in peers/node/package-lock.json,
# peers/go/go.sum and peers/java/pom.xml).
CONFLUENT_KAFKA_VERSION="2.16.1"
KAFKA_PYTHON_VERSION="3.0.12"

log() { echo "peers: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- install ---

venv_ok() {
  [[ -x "$VENV/bin/python" ]] && [[ -f "$VENV/.complete-$CONFLUENT_KAFKA_VERSION-$KAFKA_PYTHON_VERSION" ]]
}

install_python() {
  if venv_ok; then log "python venv ok ($VENV)"; return 0; fi
  log "creating python venv $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  timeout 600 "$VENV/bin/pip" install -q --disable-pip-version-check \
    "confluent-kafka==$CONFLUENT_KAFKA_VERSION" "kafka-python==$KAFKA_PYTHON_VERSION"
  "$VENV/bin/python" -c 'import confluent_kafka, kafka; print("confluent-kafka", confluent_kafka.version(), "librdkafka", confluent_kafka.libversion(), "kafka-python", kafka.__version__)' >&2
  touch "$VENV/.complete-$CONFLUENT_KAFKA_VERSION-$KAFKA_PYTHON_VERSION"
}

install_kcat() {
  if command -v kcat >/dev/null; then log "kcat ok ($(command -v kcat))"; return 0; fi
  if ! command -v apt-get >/dev/null; then log "kcat: no apt-get; skipping"; return 0; fi
  local sudo=()
  [[ "$(id -u)" == 0 ]] || sudo=(sudo -n)
  log "installing kcat via apt"
  if ! DEBIAN_FRONTEND=noninteractive timeout 600 "${sudo[@]}" apt-get install -y -qq kcat >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive timeout 300 "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 || true
    if ! DEBIAN_FRONTEND=noninteractive timeout 600 "${sudo[@]}" apt-get install -y -qq kcat >/dev/null 2>&1; then
      log "kcat unavailable via apt; skipping the kcat peer"
      return 0
    fi
  fi
  log "kcat installed"
}

install_node() {
  command -v npm >/dev/null || { log "npm not found; skipping node peer"; return 0; }
  local d="$PEERS_DIR/node"
  if [[ -f "$d/node_modules/.package-lock.json" ]] && cmp -s "$d/package-lock.json" "$d/node_modules/.lock-stamp"; then
    log "node peer ok"; return 0
  fi
  log "npm ci in $d"
  (cd "$d" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >&2)
  cp "$d/package-lock.json" "$d/node_modules/.lock-stamp"
}

install_go() {
  command -v go >/dev/null || { log "go not found; skipping go peer"; return 0; }
  mkdir -p "$BIN_DIR"
  log "building franz-go peer -> $BIN_DIR/franz-go-peer"
  # go build is incremental (build cache); -mod=readonly keeps go.mod/go.sum authoritative.
  (cd "$PEERS_DIR/go" && timeout 900 go build -mod=readonly -o "$BIN_DIR/franz-go-peer" .)
  # Producer perf peer for scripts/producer-bench.sh (same module, cmd/perf).
  (cd "$PEERS_DIR/go" && timeout 900 go build -mod=readonly -o "$BIN_DIR/franz-go-perf" ./cmd/perf)
}

install_java() {
  command -v mvn >/dev/null || { log "mvn not found; skipping java peer"; return 0; }
  local stamp="$JAVA_OUT/.stamp" src_hash
  src_hash="$(cat "$PEERS_DIR/java/pom.xml" "$PEERS_DIR"/java/src/main/java/*.java | sha256sum | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$src_hash" && -f "$JAVA_OUT/classpath.txt" ]]; then
    log "java peer ok"; return 0
  fi
  log "building java peer -> $JAVA_OUT"
  mkdir -p "$JAVA_OUT"
  timeout 900 mvn -B -q -f "$PEERS_DIR/java/pom.xml" "-Dpeer.build.dir=$JAVA_OUT/build" \
    package dependency:build-classpath "-Dmdep.outputFile=$JAVA_OUT/classpath.txt" >&2
  echo "$src_hash" >"$stamp"
}

peer_installed() {
  case "$1" in
    python-confluent|python-kafka) venv_ok ;;
    kcat) command -v kcat >/dev/null ;;
    node) [[ -d "$PEERS_DIR/node/node_modules/kafkajs" ]] && command -v node >/dev/null ;;
    go) [[ -x "$BIN_DIR/franz-go-peer" ]] ;;
    java) [[ -f "$JAVA_OUT/classpath.txt" && -f "$JAVA_OUT/build/peer.jar" ]] ;;
    *) return 1 ;;
  esac
}

# Prints the command line for a peer (without its arguments).
peer_cmd() {
  case "$1" in
    python-confluent) echo "$VENV/bin/python $PEERS_DIR/python-confluent/peer.py" ;;
    python-kafka) echo "$VENV/bin/python $PEERS_DIR/python-kafka/peer.py" ;;
    kcat) echo "bash $PEERS_DIR/kcat/peer.sh" ;;
    node) echo "node $PEERS_DIR/node/peer.js" ;;
    go) echo "$BIN_DIR/franz-go-peer" ;;
    java) echo "java -Xmx256m -cp $JAVA_OUT/build/peer.jar:$(cat "$JAVA_OUT/classpath.txt") Peer" ;;
  esac
}

cmd_install() {
  local p did_python=0
  for p in "${PEERS[@]}"; do
    case "$p" in
      python-confluent|python-kafka) ((did_python)) || install_python; did_python=1 ;;
      kcat) install_kcat ;;
      node) install_node ;;
      go) install_go ;;
      java) install_java ;;
      *) die "unknown peer $p (known: ${ALL_PEERS[*]})" ;;
    esac
  done
  cmd_list
}

cmd_list() {
  local p
  for p in "${PEERS[@]}"; do
    if peer_installed "$p"; then echo "$p installed"; else echo "$p not-installed"; fi
  done
}

# -------------------------------------------------------------------- run ---

cmd_run() {
  [[ -n "$BOOTSTRAP" ]] || die "run needs --bootstrap HOST:PORT"
  # Fail fast when nothing answers (else every peer would sit out its timeouts).
  local i
  for i in 1 2 3 4 5; do
    python3 "$SCRIPT_DIR/kafka-probe.py" probe "$BOOTSTRAP" --timeout 5 >/dev/null 2>&1 && break
    ((i == 5)) && die "no Kafka broker answers ApiVersions+Metadata at $BOOTSTRAP"
    sleep 1
  done
  local out="${OUT:-$REPO_ROOT/target/peers/results.jsonl}"
  mkdir -p "$(dirname "$out")"
  : >"$out"
  local logdir
  logdir="$(dirname "$out")/logs"
  mkdir -p "$logdir"
  local run_id p missing=0
  run_id="$(date +%s)-$$-$RANDOM"
  for p in "${PEERS[@]}"; do
    if ! peer_installed "$p"; then
      if ((EXPLICIT_PEERS)); then
        echo "{\"peer\":\"$p\",\"case\":\"installed\",\"ok\":false,\"detail\":\"not installed; run scripts/peers.sh install\"}" >>"$out"
        missing=1
      else
        log "$p not installed; skipping (scripts/peers.sh install)"
      fi
      continue
    fi
    local topic="peers-$p-$run_id" group="peers-$p-$run_id-group" cmd rc=0 t0=$SECONDS
    cmd="$(peer_cmd "$p")"
    log "running $p (topic $topic)"
    # shellcheck disable=SC2086
    timeout -k 10 "$PEER_TIMEOUT" $cmd --bootstrap "$BOOTSTRAP" --topic "$topic" \
      --records "$RECORDS" --group "$group" \
      >"$logdir/$p.out" 2>"$logdir/$p.err" </dev/null || rc=$?
    grep '^{' "$logdir/$p.out" >>"$out" || true
    if ((rc != 0)) && ! grep -q '"ok": *false' "$logdir/$p.out"; then
      echo "{\"peer\":\"$p\",\"case\":\"exit\",\"ok\":false,\"detail\":\"exit code $rc without a failing case (timeout=124); see $logdir/$p.err\"}" >>"$out"
    fi
    if ! grep -q '^{' "$logdir/$p.out" && ((rc == 0)); then
      echo "{\"peer\":\"$p\",\"case\":\"exit\",\"ok\":false,\"detail\":\"printed no results\"}" >>"$out"
    fi
    log "$p finished rc=$rc in $((SECONDS - t0))s"
  done
  local table_rc=0
  EXPECT_FAIL="$EXPECT_FAIL" python3 - "$out" <<'PY' || table_rc=$?
import json, os, sys
expect = [x.strip() for x in os.environ.get("EXPECT_FAIL", "").split(",") if x.strip()]
def expected(p, c):
    return c in expect or ("%s/%s" % (p, c)) in expect
ORDER = ["installed", "metadata", "create_topic", "produce", "consume", "group_consume",
         "committed_offset", "group_consume_kip848", "delete_topic", "exit"]
rows, cases, peers = {}, [], []
fails, skips, xfails, xpasses = [], 0, [], []
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    p, c = r["peer"], r["case"]
    if p not in peers: peers.append(p)
    if c not in cases: cases.append(c)
    skipped = bool(r.get("skipped") and r.get("ok"))
    skips += skipped
    mark = "skip" if skipped else ("pass" if r.get("ok") else "FAIL")
    if expected(p, c):
        if r.get("ok") and not skipped:
            mark = "XPASS"
            xpasses.append("%s/%s" % (p, c))
        elif not r.get("ok"):
            mark = "xfail"
            xfails.append("%s/%s: %s" % (p, c, r.get("detail", "")))
    rows.setdefault(p, {})[c] = mark
    if not r.get("ok") and not expected(p, c):
        fails.append("%s/%s: %s" % (p, c, r.get("detail", "")))
if not peers:
    print("no results"); sys.exit(1)
cases.sort(key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER))
w = max(len(p) for p in peers + ["peer"])
print("| " + "peer".ljust(w) + " | " + " | ".join(cases) + " |")
print("|" + "-" * (w + 2) + "|" + "|".join("-" * (len(c) + 2) for c in cases) + "|")
for p in peers:
    print("| " + p.ljust(w) + " | " + " | ".join(rows[p].get(c, "-").ljust(len(c)) for c in cases) + " |")
total = sum(len(v) for v in rows.values())
for f in fails:
    print("FAIL " + f)
if xfails:
    print("\nKNOWN-MISSING (expected to fail, --expect-fail %s):" % ",".join(expect))
    for f in xfails:
        print("  xfail " + f[:300])
for x in xpasses:
    print("XPASS %s: listed in --expect-fail but passed; remove it from the list" % x)
passed = total - len(fails) - skips - len(xfails)
print("\npeers: %d passed, %d failed, %d skipped, %d expected failures" % (passed, len(fails), skips, len(xfails)))
sys.exit(1 if fails else 0)
PY
  ((missing == 0 && table_rc == 0))
}

# ------------------------------------------------------------------- main ---

main() {
  local cmd="${1:-}"
  [[ -n "$cmd" ]] || { sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
  shift
  BOOTSTRAP="" RECORDS=100 OUT="" EXPLICIT_PEERS=0 EXPECT_FAIL=""
  PEERS=("${ALL_PEERS[@]}")
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --bootstrap) BOOTSTRAP="$2"; shift 2 ;;
      --peers) IFS=, read -r -a PEERS <<<"$2"; EXPLICIT_PEERS=1; shift 2 ;;
      --records) RECORDS="$2"; shift 2 ;;
      --out) OUT="$2"; shift 2 ;;
      --expect-fail) EXPECT_FAIL="$2"; shift 2 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  case "$cmd" in
    install) cmd_install ;;
    run) cmd_run ;;
    list) cmd_list ;;
    *) die "unknown command $cmd (install|run|list)" ;;
  esac
}

main "$@"
