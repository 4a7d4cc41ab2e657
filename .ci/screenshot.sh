#!/usr/bin/env bash
# Takes a screenshot of the running window under Xvfb.
# Usage: .ci/screenshot.sh OUT.png [SECONDS] [-- ARGS for bottleneck]
# Needs: xvfb xauth imagemagick (see .ci/run for the package list).
set -euo pipefail
out="${1:?usage: screenshot.sh OUT.png [SECONDS] [-- ARGS]}"
wait_secs="${2:-6}"
shift $(( $# >= 2 ? 2 : 1 ))
[ "${1:-}" = "--" ] && shift
bin="${BOTTLENECK_BIN:-target/release/bottleneck}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
    "$0" "${@:3}" & pid=$!
    sleep "$2"
    import -window root "$1"
    kill $pid; wait $pid 2>/dev/null || true
' "$bin" "$out" "$wait_secs" "$@"
echo "wrote $out"
