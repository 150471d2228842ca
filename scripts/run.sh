#!/usr/bin/env bash
# Builds Natter in release mode and serves it at http://127.0.0.1:3000 with
# its data in ./data, installing whatever is missing first. Extra arguments
# go to natter-server (see `--help`), e.g. --listen 0.0.0.0:8080.
source "$(dirname "$0")/lib.sh"
cd "$NATTER_ROOT"

ensure_build_tools
ensure_emoji_font
say "building Natter (release; the first build takes several minutes)"
quietly cargo leptos build --release --split --precompress
say "starting Natter (Ctrl-C stops it)"
# Defaults as environment, so that flags given to this script override them.
export NATTER_SITE_ROOT=${NATTER_SITE_ROOT:-target/site} NATTER_DATA_DIR=${NATTER_DATA_DIR:-data}
exec "$CARGO_TARGET_DIR/release/natter-server" "$@"
