#!/usr/bin/env bash
# Search at scale: gen's sharded index beside Pagefind on the same built
# sites, in headless Chromium behind nginx (gzip on for text, Range on).
#
#   bash benches/search.sh [ARTICLES=30000] [SITES=15] [PER_SITE=7000]
#
# 1. One site of ARTICLES Korean articles (quoting English words).
# 2. A network of SITES sites × PER_SITE articles searched together.
# For each: build time of the index inside a cold build, size and file
# count, bytes transferred for the search page plus a first Korean query
# (금리, which occurs only inside 기준금리를) and a later one, a first
# English query, ms from the last key to the results, and whether 금리 finds
# anything. Then one edit and the files it rewrites. Needs nginx, chromium,
# node; Pagefind comes from npm into target/bench-tools/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
ARTICLES=${1:-30000}
SITES=${2:-15}
PER_SITE=${3:-7000}
work=${SEARCH_BENCH_DIR:-/tmp/gen-search-bench}
gen="$root/target/release/gen"
tools="$root/target/bench-tools/pagefind"
pagefind="$tools/node_modules/.bin/pagefind"
source "$here/common.sh"

(cd "$root" && cargo build --release --quiet)
if [ ! -x "$pagefind" ]; then
  mkdir -p "$tools" && (cd "$tools" && npm init -y >/dev/null && npm install --silent pagefind@1.5)
fi
mkdir -p "$work"
touch "$work/access.log"

# nginx on a free port serving $1; echoes the port. Stopped on exit (serve
# runs in a subshell, so its pid files are listed in a file, not a variable).
pids="$work/nginx.pids"
: > "$pids"
serve() {
  local dir=$1 conf port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  conf=$(mktemp -d)
  cat > "$conf/nginx.conf" <<EOF
worker_processes 1;
pid $conf/nginx.pid;
error_log $conf/error.log;
events {}
http {
  include /etc/nginx/mime.types;
  types { application/octet-stream pf_index pf_meta pf_fragment pagefind; }
  log_format bytes '\$bytes_sent \$status \$uri';
  access_log $work/access.log bytes;
  client_body_temp_path $conf/body; proxy_temp_path $conf/proxy; fastcgi_temp_path $conf/fcgi; uwsgi_temp_path $conf/uwsgi; scgi_temp_path $conf/scgi;
  gzip on; gzip_comp_level 6; gzip_min_length 256;
  gzip_types text/css application/javascript text/javascript application/json application/wasm text/plain;
  server { listen 127.0.0.1:$port; root $dir; }
}
EOF
  nginx -c "$conf/nginx.conf" -g "daemon on;" -e "$conf/error.log"
  echo "$conf/nginx.pid" >> "$pids"
  echo "$port"
}
cleanup() { while read -r p; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done < "$pids"; }
trap cleanup EXIT

# index_stats DIR: files and bytes under DIR.
index_stats() { find "$1" -type f | wc -l | tr -d '\n'; echo -n " files, "; du -sb "$1" | awk '{printf "%.1f MB", $1/1e6}'; }

# measure ENGINE URL Q1 Q2 → JSON line
measure() { node --experimental-websocket "$here/search_bytes.mjs" "$@" "$work/access.log"; }

report() { # LABEL JSON
  python3 - "$1" "$2" <<'EOF'
import json, sys
label, d = sys.argv[1], json.loads(sys.argv[2])
if "error" in d:
    print(f"  {label:<34} ERROR {d['error']}")
else:
    print(f"  {label:<20} page {d['page_bytes']/1024:5.1f} KB; with the first query {d['first_query']}: {d['first_bytes']/1024:7.1f} KB in {d['first_requests']:3d} requests, "
          f"{d['first_ms']:4d} ms, {d['first_count']} results | then {d['second_query']}: {d['second_bytes']/1024:6.1f} KB, {d['second_ms']:4d} ms")
EOF
}

echo "== One site of $ARTICLES articles"
one="$work/one"
if [ ! -d "$one/content" ]; then python3 "$here/search_corpus.py" "$one" --sites 1 --articles "$ARTICLES"; fi
rm -rf "$one/public" "$one/.gen"
(cd "$one" && "$gen" build --json > "$work/one.json")
python3 -c "
import json; s=json.load(open('$work/one.json'))['sites'][0]
print(f\"  gen cold build {s['timings_ms']['render']/1000:.1f} s render, {s['timings_ms']['search']/1000:.1f} s search index {s['search']}\")"
echo "  gen index: $(index_stats "$one/public/s00/_search")"
# Pagefind on the article pages (gen's lists and tags would be indexed too).
t=$(run "pagefind index" "$pagefind" --site "$one/public/s00" --glob '*/a[0-9]*/index.html' --output-subdir pagefind)
echo "  pagefind index: $t s, $(index_stats "$one/public/s00/pagefind")"
cp "$here/pagefind.html" "$one/public/s00/pagefind.html"
port=$(serve "$one/public/s00")
report "gen (Korean)" "$(measure gen "http://127.0.0.1:$port/search/" 금리 기준금리 )"
report "pagefind (Korean)" "$(measure pagefind "http://127.0.0.1:$port/pagefind.html" 금리 기준금리)"
report "gen (English)" "$(measure gen "http://127.0.0.1:$port/search/" publishing market)"
report "pagefind (English)" "$(measure pagefind "http://127.0.0.1:$port/pagefind.html" publishing market)"
# One edit: a new word in one article.
before=$(find "$one/public/s00/_search" -type f | sort)
f=$(find "$one/content/s00" -name 'a00100.md')
# A word no earlier run added: the edit always brings new terms.
echo "새로운낱말 zyzzyva$(date +%s)" >> "$f"
start=$(date +%s.%N)
(cd "$one" && "$gen" build --json > "$work/one-edit.json")
secs=$(echo "$(date +%s.%N) - $start" | bc)
after=$(find "$one/public/s00/_search" -type f | sort)
new=$(comm -13 <(echo "$before") <(echo "$after") | wc -l)
total=$(echo "$after" | wc -l)
echo "  one edit: rebuild ${secs} s (search $(python3 -c "import json; print(round(json.load(open('$work/one-edit.json'))['sites'][0]['timings_ms']['search']/1000, 2))") s), $new of $total index files new"

echo
echo "== A network of $SITES sites x $PER_SITE articles, searched together from s00"
net="$work/net"
if [ ! -d "$net/content" ]; then python3 "$here/search_corpus.py" "$net" --sites "$SITES" --articles "$PER_SITE" --network --seed 2; fi
rm -rf "$net/public" "$net/.gen"
t=$(run "gen cold build (network)" bash -c "cd '$net' && '$gen' build --json > '$work/net.json'")
python3 -c "
import json; r=json.load(open('$work/net.json'))
s=sum(x['timings_ms'].get('search',0) for x in r['sites'])/1000
print(f\"  gen: search indexes {s:.1f} s summed over sites, network index {r['network']['ms']/1000:.1f} s, {r['network']['shards']} network shards\")"
echo "  gen per site (s00): $(index_stats "$net/public/s00/_search/f") (the network's copies aside: $(index_stats "$net/public/s00/_search/net"))"
start=$(date +%s.%N)
for d in "$net"/public/s*/; do
  "$pagefind" --site "$d" --glob '*/a[0-9]*/index.html' --output-subdir pagefind >/dev/null 2>&1
done
echo "  pagefind: $(echo "$(date +%s.%N) - $start" | bc) s for all sites; s00: $(index_stats "$net/public/s00/pagefind")"
# Pagefind's multisite search: the host's index plus mergeIndex of the others.
merge=$(for d in "$net"/public/s*/; do n=$(basename "$d"); [ "$n" = s00 ] || printf 'await pagefind.mergeIndex("/%s/pagefind/");' "$n"; done)
sed -e 's#await import("/pagefind/pagefind.js");#await import("/s00/pagefind/pagefind.js"); await pagefind.options({ basePath: "/s00/pagefind/" });#' \
    -e "s#await pagefind.init();#$merge await pagefind.init();#" "$here/pagefind.html" > "$net/public/pagefind-net.html"
gport=$(serve "$net/public/s00")
pport=$(serve "$net/public")
report "gen network (Korean)" "$(measure gen "http://127.0.0.1:$gport/search/?scope=all" 금리 기준금리)"
report "pagefind merged (Korean)" "$(measure pagefind "http://127.0.0.1:$pport/pagefind-net.html" 금리 기준금리)"
report "gen network (English)" "$(measure gen "http://127.0.0.1:$gport/search/?scope=all" publishing market)"
report "pagefind merged (English)" "$(measure pagefind "http://127.0.0.1:$pport/pagefind-net.html" publishing market)"
report "gen one site of the network" "$(measure gen "http://127.0.0.1:$gport/search/" 금리 기준금리)"
