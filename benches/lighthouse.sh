#!/usr/bin/env bash
# Lighthouse (npm, 12.x: it still has the "Properly size images" and "Serve
# images in next-gen formats" audits next to the newer image insight) on a
# demo article with a photo, as a phone: prints each image audit's result.
#
#   bash benches/lighthouse.sh [PAGE]     default: /society/subway-extension/
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PAGE=${1:-/society/subway-extension/}
cargo build --release --quiet
LH=$ROOT/target/bench-tools/lighthouse
[ -x "$LH/node_modules/.bin/lighthouse" ] || { mkdir -p "$LH" && (cd "$LH" && npm install --silent --no-audit --no-fund lighthouse@12 >/dev/null); }
dir=$(mktemp -d /tmp/gen-lighthouse-XXXX)
cp -r content themes assets sites.toml "$dir/"
(cd "$dir" && "$ROOT/target/release/gen" build --quiet)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir/public/daily" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break; sleep 0.1; done
CHROME_PATH=/usr/bin/chromium "$LH/node_modules/.bin/lighthouse" "http://127.0.0.1:$port$PAGE" --quiet \
  --only-categories=performance --output=json --output-path="$dir/report.json" \
  --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --disable-background-networking"
python3 - "$dir/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("lighthouse", r["lighthouseVersion"], r["finalDisplayedUrl"], "performance", round(r["categories"]["performance"]["score"] * 100))
for a in ["uses-responsive-images", "modern-image-formats", "image-delivery-insight", "offscreen-images", "unsized-images", "uses-optimized-images"]:
    x = r["audits"].get(a)
    if x is None:
        continue
    items = (x.get("details") or {}).get("items") or []
    print(f"{a:28} score {x['score']}  findings {len(items)}  {x.get('displayValue', '')}")
    for i in items:
        reasons = [r.get("reason") for r in ((i.get("subItems") or {}).get("items") or [])]
        print("   ", i.get("url"), i.get("wastedBytes"), "; ".join(str(r) for r in reasons))
PY
