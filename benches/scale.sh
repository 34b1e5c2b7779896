#!/usr/bin/env bash
# The scale benchmark (not part of the test command): N idle WebSocket
# connections (default 500 000) held for 5 minutes with each server's
# default heartbeat, against oxsio and then socketioxide. Prints one JSON
# line per peer and appends it to benches/results/scale.jsonl.
#
#   bash benches/scale.sh                                   # 500 000, 300 s, both peers
#   bash benches/scale.sh --conns 100000 --hold-s 60 --peers oxsio
#
# What it needs (see benches/README.md, "Scale"):
#   - open files: 20 000 per process here (hard limit, no CAP_SYS_RESOURCE),
#     so connections are sharded over server and load processes of ≤ 19 000
#     each; every process raises its soft limit to the hard one (setrlimit).
#   - ports: each load shard binds its own 127.0.k.x source addresses before
#     connecting (IP_BIND_ADDRESS_NO_PORT); no port sysctl.
#   - no sysctl: the TCP buffer memory of a million idle loopback sockets
#     peaked at 53 566 pages in the 500 000 oxsio run (230 931 with
#     socketioxide), below the default
#     net.ipv4.tcp_mem pressure threshold (383 877 pages here); the run
#     records that peak (tcp_mem_pages_max) and nf_conntrack_count.
#   - memory: a run stops opening shards when MemAvailable would fall under
#     4 GiB (--min-free-gib) and reports the ceiling it reached.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/bench}"

conns=500000
hold=300
peers=oxsio,socketioxide
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --conns) conns="$2"; shift 2 ;;
    --hold-s) hold="$2"; shift 2 ;;
    --peers) peers="$2"; shift 2 ;;
    *) extra+=("$1" "$2"); shift 2 ;;
  esac
done

cargo build --release -p oxsio-bench

limit=$((hold + 420))
IFS=, read -r -a list <<< "$peers"
for peer in "${list[@]}"; do
  echo "scale.sh: $peer, $conns connections, hold ${hold}s"
  timeout $((limit + 180)) "$CARGO_TARGET_DIR/release/oxsio-bench" scale --peer "$peer" \
    --conns "$conns" --hold-s "$hold" --limit-s "$limit" "${extra[@]}"
  sleep 10 # let the kernel free the last run's sockets
done
