# Shared by scripts/run.sh and scripts/test.sh: quiet, idempotent installs of
# what Natter needs on a Debian machine, and stage timing. Source it; do not run it.

set -euo pipefail

NATTER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# One build directory outside the clone, so every clone and CI run reuse builds.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natter/target}
export PATH="$HOME/.cargo/bin:$PATH"

# Tool versions the workspace is built with. wasm-bindgen must equal the
# version pinned in Cargo.toml, or the generated JS glue does not match.
CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130
# wasm-opt for release builds. Debian's binaryen (108) is too old for the
# reference types in today's wasm-bindgen output: it emits a module that fails
# at start-up in the browser. The npm build of binaryen is current.
BINARYEN_VERSION=132.0.0
# Twemoji as a COLR font (OFL-1.1), so emoji look the same on every platform.
TWEMOJI_FONT_VERSION=15.0.3

say() { printf '==> %s\n' "$*" >&2; }

# Runs a command, showing its output only when it fails.
quietly() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    say "failed: $*"
    return 1
  fi
  rm -f "$log"
}

STAGE_NAME=""
STAGE_START=0
STAGE_REPORT=""
stage() {
  stage_end
  STAGE_NAME=$1
  STAGE_START=$(date +%s)
  say "$STAGE_NAME"
}
stage_end() {
  if [ -n "$STAGE_NAME" ]; then
    STAGE_REPORT+=$(printf '%-28s %5ss' "$STAGE_NAME" "$(( $(date +%s) - STAGE_START ))")$'\n'
    STAGE_NAME=""
  fi
}
print_stage_times() {
  stage_end
  printf '\nStage times:\n%s' "$STAGE_REPORT" >&2
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages whose command is missing: ensure_apt cmd:package ...
ensure_apt() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    say "installing Rust"
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >/dev/null
  fi
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown ||
    quietly rustup target add wasm32-unknown-unknown
}

# ensure_cargo_tool <binary> <crate> <version>
ensure_cargo_tool() {
  local bin=$1 crate=$2 version=$3
  if command -v "$bin" >/dev/null 2>&1 && "$bin" --version 2>/dev/null | grep -qF "$version"; then
    return 0
  fi
  say "installing $crate $version"
  # The crates.io mirror can lag behind a crate's lock file; then resolve afresh.
  quietly cargo install --locked --quiet "$crate" --version "=$version" 2>/dev/null ||
    quietly cargo install --quiet "$crate" --version "=$version"
}

ensure_binaryen() {
  local tools=${XDG_CACHE_HOME:-$HOME/.cache}/natter/tools
  if ! grep -qs "\"version\": \"$BINARYEN_VERSION\"" "$tools/node_modules/binaryen/package.json"; then
    say "installing binaryen $BINARYEN_VERSION (wasm-opt)"
    mkdir -p "$tools"
    quietly npm install --no-audit --no-fund --prefix "$tools" "binaryen@$BINARYEN_VERSION"
  fi
  export PATH="$tools/node_modules/.bin:$PATH"
}

# Puts the pinned Twemoji font into public/fonts (not committed), from where
# cargo-leptos copies it to the site root as /fonts/twemoji.woff2.
ensure_emoji_font() {
  local fonts=$NATTER_ROOT/public/fonts stamp
  stamp="twemoji-colr-font $TWEMOJI_FONT_VERSION"
  [ -s "$fonts/twemoji.woff2" ] && [ "$(cat "$fonts/VERSION" 2>/dev/null)" = "$stamp" ] && return 0
  say "fetching the emoji font ($stamp)"
  local tmp
  tmp=$(mktemp -d)
  quietly npm pack --silent --pack-destination "$tmp" "twemoji-colr-font@$TWEMOJI_FONT_VERSION"
  tar -xzf "$tmp/twemoji-colr-font-$TWEMOJI_FONT_VERSION.tgz" -C "$tmp" package/twemoji.woff2 package/LICENSE
  mkdir -p "$fonts"
  mv "$tmp/package/twemoji.woff2" "$fonts/twemoji.woff2"
  mv "$tmp/package/LICENSE" "$fonts/LICENSE-twemoji.txt"
  echo "$stamp" >"$fonts/VERSION"
  rm -rf "$tmp"
}

# Everything needed to build the web app and the server.
ensure_build_tools() {
  ensure_apt cc:build-essential pkg-config:pkg-config node:nodejs npm:npm
  ensure_rust
  ensure_binaryen
  ensure_cargo_tool wasm-bindgen wasm-bindgen-cli "$WASM_BINDGEN_VERSION"
  ensure_cargo_tool cargo-leptos cargo-leptos "$CARGO_LEPTOS_VERSION"
}

# Go builds the FerretDB launcher for the tests; this machine keeps it here.
[ -d /usr/local/go/bin ] && export PATH="/usr/local/go/bin:$PATH"

NATTER_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/natter

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis_cluster <dir>: a Redis Cluster of 3 masters and 3 replicas of Debian's redis-server on
# free loopback ports, with its files and logs in <dir>. Appends the processes to PIDS (stopped by the
# caller's cleanup) and sets REDIS_CLUSTER_NODES to its nodes, host:port,... Returns when every node
# says cluster_state:ok and every replica follows its master.
start_redis_cluster() {
  local dir=$1 port i nodes=() ports=()
  mkdir -p "$dir"
  for i in 1 2 3 4 5 6; do
    port=$(free_port)
    # The cluster bus port is given: the default, port + 10000, may be taken or past 65535.
    redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes --cluster-port "$(free_port)" \
      --cluster-config-file "$dir/nodes-$port.conf" --cluster-node-timeout 2000 \
      --save '' --appendonly no --dir "$dir" >"$dir/redis-$port.log" 2>&1 &
    PIDS+=($!)
    ports+=("$port")
    nodes+=("127.0.0.1:$port")
  done
  for port in "${ports[@]}"; do wait_for_port "$port" "Redis Cluster node" "$dir/redis-$port.log" || return 1; done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
    || { cat "$dir/create.log" >&2; return 1; }
  for port in "${ports[@]}"; do
    for i in $(seq 1 300); do
      if redis-cli -p "$port" cluster info | grep -q '^cluster_state:ok' \
        && ! redis-cli -p "$port" info replication | grep -q '^master_link_status:down'; then
        break
      fi
      [ "$i" -eq 300 ] && { say "the Redis Cluster node on port $port is not ready"; return 1; }
      sleep 0.1
    done
  done
  REDIS_CLUSTER_NODES=$(IFS=,; echo "${nodes[*]}")
}

# wait_for_port <port> <what> <log file>: up to 60 s.
wait_for_port() {
  local port=$1 what=$2 log=$3 i
  for i in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  say "$what did not start on port $port; its log:"
  cat "$log" >&2
  return 1
}

# Each clone builds Natter's own crates under new hashes in the one shared
# build directory, so every CI run would leave its test binaries behind (some
# 2 GB) until the disk fills. This deletes the artifacts of Natter's crates
# that are over an hour older than the newest of the same name in the same
# directory: other clones' builds, not this one's.
prune_stale_builds() {
  local names
  names=$(cd "$NATTER_ROOT" && cargo metadata --no-deps --format-version 1 |
    grep -o '"name":"[^"]*","src_path"' | cut -d'"' -f4 | tr - _ | sort -u)
  # shellcheck disable=SC2086
  python3 - "$CARGO_TARGET_DIR" $names <<'PY'
import os, re, sys
root, names = sys.argv[1], sys.argv[2:]
pattern = re.compile(r"^(?:lib)?(%s)-[0-9a-f]{16}(?:\..+)?$" % "|".join(map(re.escape, names)))
for dirpath, dirnames, filenames in os.walk(root):
    if os.path.basename(dirpath) != "deps":
        continue
    dirnames.clear()
    groups = {}
    for name in filenames:
        match = pattern.match(name)
        if match:
            path = os.path.join(dirpath, name)
            groups.setdefault(match.group(1), []).append((os.stat(path).st_mtime, path))
    for files in groups.values():
        newest = max(mtime for mtime, _ in files)
        for mtime, path in files:
            if mtime < newest - 3600:
                os.remove(path)
PY
}
