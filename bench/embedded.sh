# Sourced by the facade benchmarks: starts routeplex's embedded default with the README's start command (a
# fresh PGlite folder) and a catalog whose models are served by a fake OpenAI-compatible upstream of its own
# (port $RPX_UPSTREAM_PORT, default 9101, so that its count of served calls is routeplex's alone), waits for
# the facade on $RPX_GATEWAY_PORT (default 8088) and sets: root, shared, up_pid, rpx_pid, port, data, key.
# stop_and_count stops both (SIGTERM flushes routeplex's writes) and prints model calls against entries.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${SHARED_DIR:-$root/../shared}
up=${RPX_UPSTREAM_PORT:-9101}
port=${RPX_GATEWAY_PORT:-8088}
data=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$data"; }
trap cleanup EXIT

PORT=$up node "$shared/bench/fake-openai.mjs" >"$data/upstream.log" 2>&1 & up_pid=$!; pids+=($up_pid)
ROUTEPLEX_DATA_DIR="$data" ROUTEPLEX_CATALOG="$root/services/router/bench/bench-catalog.json" \
  BENCH_UPSTREAM_URL="http://127.0.0.1:$up/v1" GATEWAY_PORT=$port ROUTER_GRPC_PORT=50161 FEEDBACK_GRPC_PORT=50162 \
  INSIGHTS_GRPC_PORT=50163 ROUTEPLEX_LOG_LEVEL=warn ROUTEPLEX_SIM_LATENCY_SCALE=0 \
  bash "$root/scripts/start" >"$data/routeplex.log" 2>&1 & rpx_pid=$!; pids+=($rpx_pid)
for _ in $(seq 150); do [ -f "$data/dev-api-key" ] && (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
key=$(cat "$data/dev-api-key")

stop_and_count() {
  kill -TERM $rpx_pid; wait $rpx_pid || true
  kill -TERM $up_pid; wait $up_pid || true
  local served recorded
  served=$(grep -o 'served [0-9]*' "$data/upstream.log" | awk '{print $2}')
  recorded=$(cd "$root" && ROUTEPLEX_DATA_DIR="$data" node --import tsx --input-type=module -e "
    const { openStore } = await import('./packages/store/src/index.ts');
    const s = await openStore({ pgliteDir: process.env.ROUTEPLEX_DATA_DIR + '/pglite', listen: false });
    console.log(await s.countEntries()); await s.close();" 2>/dev/null | tail -1)
  echo "== routeplex: $served model calls served by its upstream, $recorded entries recorded"
}
