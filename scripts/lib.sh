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

# missing_debs PACKAGE...: prints, one a line, the PACKAGEs not installed.
missing_debs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

# install_debs WHO PACKAGE...: installs with apt-get the PACKAGEs not yet
# installed (WHO names the script in messages) and sets INSTALLED to them.
install_debs() {
  local who=$1
  shift
  mapfile -t INSTALLED < <(missing_debs "$@")
  if [ ${#INSTALLED[@]} -eq 0 ]; then
    echo "   cached: $* installed"
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "$who: need root to install ${INSTALLED[*]}" >&2
    exit 1
  fi
  echo "   installing: ${INSTALLED[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${INSTALLED[@]}" >/dev/null
}

# need_tools WHO TOOL...: fails naming the first TOOL not on PATH.
need_tools() {
  local who=$1 t
  shift
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "$who: $t missing after apt-get install" >&2; exit 1; }
  done
}
