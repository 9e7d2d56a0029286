#!/usr/bin/env bash
# make loadtest: the API measured from a separate process (docs/perf/api-resources.md).
# Starts `lend serve --demo` on a fresh data directory (rate limit off), then
# runs lendload's scenarios against it: healthz (the ceiling), credit-line
# reads, decisions closed-loop and open-loop at LOADTEST_RATE, repayments.
# Opt-in: LOADTEST_MERCHANTS=N adds decisions spread over N merchants (with a
# service key issued for the run); LOADTEST_DEMO_MERCHANTS=M builds a demo of
# M merchants (about a quarter get an active line) instead of the default.
set -euo pipefail
BIN=${BIN:-bin}
ADDR=${LOADTEST_ADDR:-127.0.0.1:18090}
N=${LOADTEST_N:-30000}
C=${LOADTEST_CONNS:-20}
RATE=${LOADTEST_RATE:-5000}
MERCHANTS=${LOADTEST_MERCHANTS:-}
DEMO_SIZE=()
if [ -n "${LOADTEST_DEMO_MERCHANTS:-}" ]; then DEMO_SIZE=(--demo-merchants "$LOADTEST_DEMO_MERCHANTS"); fi
DIR=$(mktemp -d /tmp/lend-loadtest.XXXXXX)
PID=
trap 'if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi; rm -rf "$DIR"' EXIT
LEND_DATA=$DIR/data "$BIN/lend" serve --demo "${DEMO_SIZE[@]}" --addr "$ADDR" --rate 1000000000 --burst 1000000000 >"$DIR/serve.log" 2>&1 &
PID=$!
ready=
for _ in $(seq 1 120); do
  curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1 && { ready=1; break; }
  kill -0 $PID 2>/dev/null || { cat "$DIR/serve.log"; exit 1; }
  sleep 0.5
done
# Measuring a server that never became ready would only measure failures.
[ -n "$ready" ] || { echo "loadtest: lend serve not ready on $ADDR after 60 s" >&2; cat "$DIR/serve.log"; exit 1; }
echo "lend serve --demo pid $PID on $ADDR ($(nproc) cores); server CPU per request from /proc/$PID/stat"
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }  # utime+stime in clock ticks
TICK=$(getconf CLK_TCK)
load() {
  local before after
  before=$(cpu)
  "$BIN/lendload" -url "http://$ADDR" -keys "$DIR/data/demo-keys.txt" -n "$N" "$@"
  after=$(cpu)
  awk -v d=$((after - before)) -v t="$TICK" -v n="$N" 'BEGIN{printf "  server CPU %.0f µs/request\n", d/t*1e6/n}'
}
load -scenario healthz -c "$C"
load -scenario creditline -c "$C"
load -scenario decision -c "$C"
load -scenario decision -c 64 -rate "$RATE"
load -scenario repayment -c "$C"
if [ -n "$MERCHANTS" ]; then
  LEND_SERVICE_KEY=$(LEND_DATA=$DIR/data "$BIN/lend" keys create --role service 2>/dev/null)
  export LEND_SERVICE_KEY
  load -scenario decision -c "$C" -merchants "$MERCHANTS"
fi
