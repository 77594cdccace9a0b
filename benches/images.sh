#!/usr/bin/env bash
# Image-heavy build: SITES sites x ARTICLES articles x IMAGES distinct images
# each (default 10 x 2500 x 4 = 100,000 images). Times a cold build, a no-op
# build and a build after one image is replaced, with peak memory, and checks
# that no folder under images/ holds more than a few hundred entries.
#
#   bash benches/images.sh [SITES] [ARTICLES] [IMAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
SITES=${1:-10}
ARTICLES=${2:-2500}
IMAGES=${3:-4}
cargo build --release --quiet
GEN=$PWD/target/release/gen

. benches/common.sh

dir=$(mktemp -d /tmp/gen-images-XXXX)
python3 benches/corpus.py "$dir" --sites "$SITES" --articles "$ARTICLES" --images "$IMAGES" --unique-images
cd "$dir"
echo "== $SITES sites x $ARTICLES articles x $IMAGES images ($(find content -name '*.png' | wc -l) image files)"
run "gen cold" "$GEN" build --quiet >/dev/null
run "gen no-op" "$GEN" build --quiet >/dev/null
python3 - <<'PY'
import zlib, struct
p = "content/site00/news/a00000/img0.png"
b = open(p, "rb").read()
tag = b"replaced"
chunk = struct.pack(">I", len(tag) + 3) + b"tEXtid\x00" + tag + struct.pack(">I", zlib.crc32(b"tEXtid\x00" + tag) & 0xFFFFFFFF)
open(p + ".new", "wb").write(b[:-12] + chunk + b[-12:])
PY
mv content/site00/news/a00000/img0.png.new content/site00/news/a00000/img0.png
run "gen one image replaced" "$GEN" build --quiet >/dev/null
echo "published images: $(find public -path '*/images/*' -type f | wc -l)"
python3 -c 'import os,sys; print("largest folder under images/:", max(len(d) + len(f) for s in os.listdir("public") for _, d, f in os.walk(os.path.join("public", s, "images"))), "entries")' 
cd - >/dev/null
rm -rf "$dir"
