# Shared by the set-up scripts (sourced, not run): timing of their steps.

# elapsed START prints the seconds since START (a `date +%s.%N` value).
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }'; }

# step NAME FUNCTION [ARGS]: runs FUNCTION, printing its name and duration.
step() {
  local name=$1 start
  shift
  start=$(date +%s.%N)
  echo "-- $name"
  "$@"
  echo "-- $name: $(elapsed "$start")"
}
