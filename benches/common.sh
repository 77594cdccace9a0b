# Shared by the bench scripts (sourced, not run).

# run LABEL CMD...: prints seconds and peak RSS (MiB) of CMD on stderr and
# echoes the seconds on stdout (and the MiB into the file $RUN_PEAK, if set).
run() {
  local label=$1; shift
  local out tf
  tf=$(mktemp)
  /usr/bin/time -o "$tf" -f "%e %M" "$@" >/dev/null 2>&1
  out=$(tail -1 "$tf"); rm -f "$tf"
  printf "%-28s %8.2f s %8.0f MiB\n" "$label" "${out% *}" "$(( ${out#* } / 1024 ))" >&2
  if [ -n "${RUN_PEAK:-}" ]; then
    echo "$(( ${out#* } / 1024 ))" > "$RUN_PEAK"
  fi
  echo "${out% *}"
}

# hugo_cold: builds every Hugo project under hugo/ (one per site, as a
# publisher runs them), prints the time and the largest site's peak memory
# on stderr, and echoes the seconds.
hugo_cold() {
  local start peak=0 m tf secs
  start=$(date +%s.%N)
  for site in hugo/*/; do
    tf=$(mktemp)
    /usr/bin/time -o "$tf" -f "%M" hugo --quiet -s "$site" >/dev/null 2>&1
    m=$(tail -1 "$tf"); rm -f "$tf"
    [ "$m" -gt "$peak" ] && peak=$m
  done
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  printf "%-28s %8.2f s %8.0f MiB (largest site)\n" "hugo cold (all sites)" "$secs" "$((peak / 1024))" >&2
  echo "$secs"
}
