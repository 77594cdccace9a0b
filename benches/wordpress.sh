#!/usr/bin/env bash
# gen import wordpress on a generated multisite blog: POSTS posts with two
# images each (and their resized copies) of IMAGE_KB KiB. Times the import
# (items and GB per second), a re-import (nothing new) and the first build.
#
#   bash benches/wordpress.sh [POSTS] [IMAGE_KB]
set -euo pipefail
cd "$(dirname "$0")/.."
POSTS=${1:-20000}
IMAGE_KB=${2:-256}
cargo build --release --quiet
GEN=$PWD/target/release/gen

. benches/common.sh

dir=$(mktemp -d /tmp/gen-wp-XXXX)
python3 benches/wordpress.py "$dir/in" --posts "$POSTS" --image-kb "$IMAGE_KB"
mkdir -p "$dir/repo" && cp -r themes "$dir/repo/"
cd "$dir/repo"
bytes=$(du -sb ../in/uploads | cut -f1)
images=$(python3 -c "print($POSTS * 2)")
t=$(run "gen import" "$GEN" import wordpress ../in/export.xml --site blog --uploads ../in/uploads)
python3 -c "print(f'import: {$POSTS / $t:,.0f} items/s, {$images / $t:,.0f} images/s, uploads folder {$bytes / 1e9:.2f} GB read at {$bytes / 1e9 / $t:.2f} GB/s (cloned where the file system can, else copied)')"
run "gen import again (no-op)" "$GEN" import wordpress ../in/export.xml --site blog --uploads ../in/uploads >/dev/null
run "gen build (first)" "$GEN" build --quiet >/dev/null
[ -f public/blog/index.html ] || { echo "the build after the import failed"; "$GEN" build; exit 1; }
echo "published: $(find public/blog -name index.html | wc -l) pages, $(find public/blog/images -type f | wc -l) images, $(wc -l < public/blog/_redirects) redirect lines"
cd - >/dev/null
rm -rf "$dir"
