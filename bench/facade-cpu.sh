#!/usr/bin/env bash
# Where the CPU goes behind the facade: starts the embedded default as bench/facade-compare.sh does
# (bench/embedded.sh), loads it with `routeplex-ai`
# requests at 32 connections, and prints each thread's CPU time per request over the measured window
# (services process, its database and collector threads, the facade process, the fake upstream), the
# machine's busy and idle shares over the same window, and the recorded count against the model calls.
# usage: bash bench/facade-cpu.sh        (env: DURATION seconds, default 10; CONNS, default 32)
set -euo pipefail
source "$(dirname "$0")/embedded.sh"
services=$(pgrep -f "apps/cli/src/main.ts start" | head -1)
facade=$(pgrep -f "services/gateway/src/main.ts" | head -1)

# One line per thread: "<process>/<main|thread-tid> <utime+stime in clock ticks>". Besides each main thread:
# in both processes four V8 collector threads; in the services process the embedded database's thread.
snapshot() {
  for pair in "services:$services" "facade:$facade" "upstream:$up_pid"; do
    pid=${pair#*:}
    for t in /proc/$pid/task/*; do
      tid=${t##*/}
      echo "${pair%%:*}/$([ "$tid" = "$pid" ] && echo main || echo "thread-$tid") $(awk '{print $14 + $15}' "$t/stat")"
    done
  done
  head -1 /proc/stat | awk '{print "machine/busy", $2 + $3 + $4 + $7 + $8; print "machine/idle", $5 + $6}'
}

(cd "$root" && ROUTEPLEX_URL="http://127.0.0.1:$port/api/v1/chat/completions" ROUTEPLEX_KEY="$key" \
  SNAP_DIR="$data" node --input-type=module -e "
  import autocannon from 'autocannon';
  import { writeFileSync } from 'node:fs';
  const body = JSON.stringify({ model: 'routeplex-ai', messages: [{ role: 'user', content: 'Write a function that reverses a linked list in place.' }] });
  const opts = { url: process.env.ROUTEPLEX_URL, method: 'POST', body, connections: Number(process.env.CONNS ?? 32),
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + process.env.ROUTEPLEX_KEY } };
  await autocannon({ ...opts, duration: 4 });                       // warm-up
  writeFileSync(process.env.SNAP_DIR + '/go', '');
  const r = await autocannon({ ...opts, duration: Number(process.env.DURATION ?? 10) });
  writeFileSync(process.env.SNAP_DIR + '/done', String(r.requests.total));
  console.log('requests/s', Math.round(r.requests.average), 'p50', r.latency.p50, 'ms p99', r.latency.p99, 'ms non-2xx', r.non2xx, 'errors', r.errors);
") & load=$!
while [ ! -f "$data/go" ]; do sleep 0.02; done; snapshot >"$data/s0"
while [ ! -f "$data/done" ]; do sleep 0.02; done; snapshot >"$data/s1"
wait $load
n=$(cat "$data/done")
tick_us=$((1000000 / $(getconf CLK_TCK)))
echo "== CPU per request over $n requests (threads under 1 us a request left out)"
join <(sort "$data/s0") <(sort "$data/s1") | awk -v n="$n" -v us="$tick_us" '
  $1 ~ /^machine/ { d[$1] = $3 - $2; next }
  { per = ($3 - $2) * us / n; total += per; if (per >= 1) printf "%-22s %7.1f us\n", $1, per }
  END { printf "%-22s %7.1f us\n", "all threads", total;
        b = d["machine/busy"]; i = d["machine/idle"]; printf "machine: %.0f%% busy, %.0f%% idle\n", 100 * b / (b + i), 100 * i / (b + i) }'

stop_and_count
