#!/usr/bin/env bash
# routeplex's REST facade beside the Portkey AI gateway, in one run of ../shared/bench/compare.sh.
# Starts the embedded default beside a fake upstream of its own (bench/embedded.sh), sends `model: routeplex-ai`,
# then stops routeplex (SIGTERM flushes) and reads back how many entries were recorded against how many model
# calls were made.
# usage: bash bench/facade-compare.sh        (env: DURATION, CONNS, N as in compare.sh)
set -euo pipefail
source "$(dirname "$0")/embedded.sh"
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

stop_and_count
