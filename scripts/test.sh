#!/usr/bin/env bash
# Runs every Natter test against real parts: installs the tools, starts
# FerretDB (MongoDB wire protocol, SQLite backend), Redis and a Redis Cluster in a temporary
# directory on free ports, runs the Rust tests and the Playwright tests in
# Debian's Chromium, prints how many ran, and stops everything it started.
source "$(dirname "$0")/lib.sh"
cd "$NATTER_ROOT"

WORK=$(mktemp -d -t natter-test.XXXXXX)
PIDS=()
SUMMARY=""
# The call tests' network namespace, once made.
NETNS=""
# What runs a command in it, as this user.
IN_NETNS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$NETNS" ] && { as_root ip netns del "$NETNS" 2>/dev/null || true; }
  rm -rf "$WORK"
  prune_stale_builds || true
  print_stage_times
  [ -n "$SUMMARY" ] && printf '\nTests:\n%s' "$SUMMARY" >&2
  if [ "$status" -eq 0 ]; then say "all tests passed"; else say "FAILED (exit $status)"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stage "install tools"
ensure_build_tools
ensure_emoji_font
ensure_apt chromium:chromium redis-server:redis-server node:nodejs npm:npm ip:iproute2
command -v go >/dev/null || { say "Go 1.22 or newer is needed to build FerretDB for the tests"; exit 1; }
if [ ! -d end2end/node_modules ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "installing the npm packages of end2end/"
  (cd end2end && quietly npm ci --no-audit --no-fund)
fi

stage "start FerretDB and Redis"
mkdir -p "$NATTER_CACHE/bin"
(cd scripts/ferretdb && quietly go build -o "$NATTER_CACHE/bin/ferretdb-launcher" .)
ferret_port=$(free_port)
"$NATTER_CACHE/bin/ferretdb-launcher" --listen "127.0.0.1:$ferret_port" --data-dir "$WORK/ferretdb" >"$WORK/ferretdb.log" 2>&1 &
PIDS+=($!)
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_for_port "$ferret_port" FerretDB "$WORK/ferretdb.log"
wait_for_port "$redis_port" Redis "$WORK/redis.log"
export NATTER_TEST_MONGODB_URI="mongodb://127.0.0.1:$ferret_port/"
export NATTER_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/"
start_redis_cluster "$WORK/redis-cluster"
export NATTER_TEST_REDIS_CLUSTER="$REDIS_CLUSTER_NODES"

stage "Rust tests"
if ! cargo test --quiet -p natter-wire -p app -p natter-server -p natter-loadtest >"$WORK/cargo-test.log" 2>&1; then
  cat "$WORK/cargo-test.log" >&2
  exit 1
fi
rust_passed=$(awk '/^test result:/ { n += $4 } END { print n + 0 }' "$WORK/cargo-test.log")
rust_suites=$(grep -c '^test result:' "$WORK/cargo-test.log")
SUMMARY+="  Rust:    $rust_passed passed in $rust_suites suites"$'\n'

# Every browser test runs against the README's run command's build: release
# mode, wasm-opt, the wasm and its lazily loaded chunks served precompressed.
# (The Rust tests above run the server's debug build.)
stage "release build"
quietly cargo leptos build --release --split --precompress

# start_node <name> [flags…]: starts the release build of the server on a
# fresh data dir and a free port, waits until it is ready, sets NODE_URL.
start_node() {
  local name=$1 port i
  shift
  port=$(free_port)
  # The browser specs sign up dozens of people from one address.
  "$CARGO_TARGET_DIR/release/natter-server" --listen "127.0.0.1:$port" --data-dir "$WORK/data-$name" \
    --site-root target/site --sign-ups-per-address 200 "$@" >"$WORK/server-$name.log" 2>&1 &
  PIDS+=($!)
  wait_for_port "$port" natter-server "$WORK/server-$name.log"
  NODE_URL="http://127.0.0.1:$port"
  for i in $(seq 1 200); do
    curl -fs "$NODE_URL/readyz" >/dev/null && return 0
    sleep 0.1
  done
  say "natter-server $name never became ready; its log:"
  cat "$WORK/server-$name.log" >&2
  return 1
}

# run_playwright <label> [options and spec files…]: runs Playwright (in the
# namespace when IN_NETNS is set) against NATTER_BASE_URL (exported by the
# caller) and counts what passed.
run_playwright() {
  local label=$1 passed log
  shift
  rm -rf end2end/test-results
  if ! (cd end2end && "${IN_NETNS[@]}" npx playwright test "$@" >"$WORK/playwright.log" 2>&1); then
    # The servers' warnings first, Playwright's report last: a CI that keeps
    # only the end of the output shows which test failed and why.
    for log in "$WORK"/server-*.log; do
      say "$log (warnings and errors):"
      { grep -E 'WARN|ERROR' "$log" || true; } | tail -20 >&2
    done
    cat "$WORK/playwright.log" >&2
    exit 1
  fi
  passed=$(node -e 'const r = require("./end2end/test-results/results.json"); console.log(r.stats.expected)')
  SUMMARY+="  $label: $passed passed in Chromium"$'\n'
}

stage "browser tests"
# end2end/tests/signup.spec.ts's: a server taking sign-ups by invitation
# only, and one taking none.
start_node invite --signup invite
invite=$NODE_URL
start_node closed --signup closed
closed=$NODE_URL
# The word list is what end2end/tests/emoji.spec.ts expects to see masked.
start_node main --sensitive-words end2end/fixtures/sensitive-words.txt
NATTER_BASE_URL=$NODE_URL NATTER_INVITE_URL=$invite NATTER_CLOSED_URL=$closed run_playwright "Browser" --project=chromium

# Seed 000's demo: two nodes on one database and one Redis, a browser on each.
stage "two-node browser tests"
head -c 48 /dev/urandom | base64 >"$WORK/jwt_secret"
cluster=(--mongodb-uri "$NATTER_TEST_MONGODB_URI" --mongodb-db "natter_e2e_$$" --redis-url "$NATTER_TEST_REDIS_URL"
  --jwt-secret-file "$WORK/jwt_secret")
start_node node-a "${cluster[@]}" --node-id a
first=$NODE_URL
start_node node-b "${cluster[@]}" --node-id b
NATTER_BASE_URL=$first NATTER_SECOND_URL=$NODE_URL run_playwright "Two nodes" --project=chromium tests/cluster.spec.ts

# Calls send media browser to browser: run them where loopback is the only
# interface, a network namespace holding the server and the browsers, so no
# ICE candidate on another address is ever tried. Every spec in
# end2end/tests/calls runs here (project `calls`: fake camera and microphone).
stage "call tests (network namespace)"
NETNS="natter-ci-$$"
as_root ip netns add "$NETNS"
as_root ip netns exec "$NETNS" ip link set lo up
if [ "$(id -u)" -eq 0 ]; then
  IN_NETNS=(ip netns exec "$NETNS")
else
  IN_NETNS=(sudo --preserve-env ip netns exec "$NETNS" sudo --preserve-env -u "$(id -un)" env "PATH=$PATH")
fi
# A fresh embedded store; calls ring for 5 s and a dropped tab has 3 s to
# come back, so the specs need not wait long.
"${IN_NETNS[@]}" "$CARGO_TARGET_DIR/release/natter-server" --listen 127.0.0.1:3000 --data-dir "$WORK/data-calls" \
  --site-root target/site --call-ring-secs 5 --call-grace-secs 3 >"$WORK/server-calls.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1 200); do
  "${IN_NETNS[@]}" curl -fs http://127.0.0.1:3000/readyz >/dev/null && break
  [ "$i" -eq 200 ] && { say "natter-server never became ready in $NETNS; its log:"; cat "$WORK/server-calls.log" >&2; exit 1; }
  sleep 0.1
done
NATTER_BASE_URL=http://127.0.0.1:3000 run_playwright "Calls (network namespace)" --project=calls
IN_NETNS=()

# The load generator's smoke run against the release build: a few users, one
# group, a few hundred messages, on the embedded store and on two nodes
# through Redis; it fails unless every message reached every client exactly
# once and in order. The benchmark itself is docs/PERFORMANCE.md's command.
stage "load smoke"
if ! cargo run --quiet -p natter-loadtest -- --smoke --port 0 --work-dir "$WORK/load" \
    --server-bin "$CARGO_TARGET_DIR/release/natter-server" >"$WORK/load.log" 2>"$WORK/load.err"; then
  cat "$WORK/load.log" "$WORK/load.err" >&2
  exit 1
fi
SUMMARY+="  Load smoke: lost 0, duplicated 0"$'\n'
grep '^| smoke' "$WORK/load.log" | sort -u | sed 's/^/  /' >&2
