#!/usr/bin/env bash
# Takes a screenshot of the running window under Xvfb (1280×800, or SIZE=1920x1080).
#
# Usage: .ci/screenshot.sh OUT.png [SECONDS] [-- ARGS for bottleneck]
#   SECONDS  how long the window runs before the shot (default 6)
#   CLICK=x,y        click there one second before the shot (e.g. to select a node);
#                    several "x,y x,y …" are clicked one second apart, and "x,y:TEXT"
#                    clicks a field there, selects its text and types TEXT, then Enter
#   CLICK_AFTER=S    click S seconds after the start instead (e.g. to start an experiment)
#   BOTTLENECK_BIN   the binary (default target/release/bottleneck)
#   SIZE=WxH         the screen and the window's size (default 1280x800)
#
# The README's screenshot: cargo build --release &&
#   CLICK=740,200 .ci/screenshot.sh assets/screenshot.png 12 -- --speed 2
# The Experiments panel's (clicks Start, with Search the capacity ticked as it is by
# default: a fresh HOME, since the panel's settings are remembered between sessions):
#   cargo build --release && HOME=$(mktemp -d) CLICK=157,311 CLICK_AFTER=3 \
#   .ci/screenshot.sh assets/experiments.png 100 -- --panel experiments
# The cheapest configuration's (plan mode, Add parameter, load ×3, Start: app.instances
# × postgres.cores at 2400 req/s):
#   CLICK="273,117 190,283 247,443:3 157,495" CLICK_AFTER=2 \
#   .ci/screenshot.sh assets/experiments_plan.png 200 -- --panel experiments
# The Advisor's (the click parks the pointer on the panel's title, away from the bars;
# a fresh HOME keeps remembered panels out of the picture):
#   HOME=$(mktemp -d) CLICK=900,97 CLICK_AFTER=30 \
#   .ci/screenshot.sh assets/advisor.png 40 -- scenarios/missing_index.ron --panel advisor
#
# Needs: xvfb xauth imagemagick xdotool (apt-get install -y …).
set -euo pipefail
out="${1:?usage: screenshot.sh OUT.png [SECONDS] [-- ARGS]}"
wait_secs="${2:-6}"
shift $(($# >= 2 ? 2 : 1))
[ "${1:-}" = "--" ] && shift
bin="${BOTTLENECK_BIN:-target/release/bottleneck}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
export CLICK="${CLICK:-}"
export CLICK_AFTER="${CLICK_AFTER:-}"
size="${SIZE:-1280x800}"
xvfb-run -a -s "-screen 0 ${size}x24" bash -c '
    "$0" "${@:3}" & pid=$!
    if [ -n "$CLICK" ]; then
        before="${CLICK_AFTER:-$(($2 - 1))}"
        sleep "$before"
        n=0
        for c in $CLICK; do
            [ $n -gt 0 ] && sleep 1
            n=$((n + 1))
            xy="${c%%:*}"
            xdotool mousemove "${xy%,*}" "${xy#*,}" click 1
            if [ "$c" != "$xy" ]; then
                # No window manager gives the window the keyboard: give it it.
                eval "$(xdotool getmouselocation --shell)"
                xdotool windowfocus "$WINDOW"
                sleep 0.3
                xdotool key ctrl+a
                xdotool type "${c#*:}"
                xdotool key Return
            fi
        done
        rest=$(($2 - before - n + 1))
        sleep "$((rest > 0 ? rest : 1))"
    else
        sleep "$2"
    fi
    import -window root "$1"
    kill $pid; wait $pid 2>/dev/null || true
' "$bin" "$out" "$wait_secs" --size "$size" "$@"
echo "wrote $out"
