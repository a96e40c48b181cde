#!/usr/bin/env bash
# routeplex's REST facade beside the Portkey AI gateway, in one run of ../shared/bench/compare.sh.
# Starts the embedded default with the README's start command (fresh PGlite folder) and a catalog whose
# models are served by a fake OpenAI-compatible upstream of its own (port $RPX_UPSTREAM_PORT, default 9101, so that its count of
# served calls is routeplex's alone), sends `model: routeplex-ai`, then stops routeplex (SIGTERM flushes)
# and reads back how many entries were recorded against how many model calls were made.
# usage: bash bench/facade-compare.sh        (env: DURATION, CONNS, N as in compare.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
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
for _ in $(seq 100); do [ -f "$data/dev-api-key" ] && (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
key=$(cat "$data/dev-api-key")
# Steady state: warm routeplex up (JIT, caches, the embedded database) with ${WARMUP:-3000} requests first.
(cd "$root" && node --input-type=module -e "
  const url = 'http://127.0.0.1:$port/api/v1/chat/completions';
  const body = JSON.stringify({ model: 'routeplex-ai', messages: [{ role: 'user', content: 'Write a function that reverses a linked list in place.' }] });
  for (let i = 0; i < ${WARMUP:-3000}; i++) {
    const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: 'Bearer $key' } });
    if (!r.ok) throw new Error('warm-up failed: ' + r.status); await r.text();
  }")

(cd "$root" && MODEL=routeplex-ai bash "$shared/bench/compare.sh" \
  "routeplex=http://127.0.0.1:$port/api/v1/chat/completions|authorization:Bearer $key")

kill -TERM $rpx_pid; wait $rpx_pid || true
kill -TERM $up_pid; wait $up_pid || true
served=$(grep -o 'served [0-9]*' "$data/upstream.log" | awk '{print $2}')
recorded=$(cd "$root" && ROUTEPLEX_DATA_DIR="$data" node --import tsx --input-type=module -e "
  const { openStore } = await import('./packages/store/src/index.ts');
  const s = await openStore({ pgliteDir: process.env.ROUTEPLEX_DATA_DIR + '/pglite', listen: false });
  console.log(await s.countEntries()); await s.close();" 2>/dev/null | tail -1)
echo "== routeplex: $served model calls served by its upstream, $recorded entries recorded"
