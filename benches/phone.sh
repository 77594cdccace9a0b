#!/usr/bin/env bash
# Bytes a phone (400 CSS px wide, DPR 2) downloads for the demo's home page
# and an article with a photo, before (images published as they are, as gen
# did before responsive images: `[images] resize = false`) and after (the
# default: WebP variants through srcset). Headless Chromium counts every
# response (benches/phone_bytes.mjs).
#
#   bash benches/phone.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
cargo build --release --quiet
GEN=$ROOT/target/release/gen
pages="/ /society/subway-extension/"
for mode in before after; do
  dir=$(mktemp -d /tmp/gen-phone-XXXX)
  cp -r content themes assets sites.toml "$dir/"
  [ "$mode" = before ] && printf '\n[images]\nresize = false\n' >> "$dir/sites.toml"
  (cd "$dir" && "$GEN" build --quiet)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir/public/daily" >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break; sleep 0.1; done
  urls=(); for p in $pages; do urls+=("http://127.0.0.1:$port$p"); done
  echo "== $mode"
  node --experimental-websocket benches/phone_bytes.mjs "${urls[@]}" | awk -F'\t' '{ printf "%-45s %9d bytes, images %9d  (%s)\n", $1, $2, $3, $4 }'
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$dir"
done
