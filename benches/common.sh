# Shared by the bench scripts (sourced, not run).

# run LABEL CMD...: prints seconds and peak RSS (MiB) of CMD on stderr and
# echoes the seconds on stdout.
run() {
  local label=$1; shift
  local out tf
  tf=$(mktemp)
  /usr/bin/time -o "$tf" -f "%e %M" "$@" >/dev/null 2>&1
  out=$(tail -1 "$tf"); rm -f "$tf"
  printf "%-28s %8.2f s %8.0f MiB\n" "$label" "${out% *}" "$(( ${out#* } / 1024 ))" >&2
  echo "${out% *}"
}
