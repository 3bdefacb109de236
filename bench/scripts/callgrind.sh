#!/usr/bin/env bash
# Instructions per operation with valgrind --tool=callgrind, single P
# (GODEBUG=asyncpreemptoff=1: callgrind asserts on the SIGURG of async preemption).
# Each benchmark is run twice, at N and 2N operations; the difference of
# the two instruction totals divided by N is the per-operation count, with
# setup, teardown and the runtime's start-up cancelled out.
#
#   cd bench && scripts/callgrind.sh            # the key rows
#   cd bench && scripts/callgrind.sh 'BenchmarkConfigGet/impl=atomic/serial' 100000
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/bench.test
go test -c -o "$bin" . >/dev/null
count() { # bench-regexp N -> total instructions
	local out log
	out=$(mktemp)
	log=$(mktemp)
	GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" \
		-test.run '^$' -test.bench "^$(echo "$1" | sed 's#/#$/^#g')\$" -test.benchtime "${2}x" -test.cpu 1 >"$log" 2>&1 || true
	if ! grep -q '^PASS' "$log"; then
		# valgrind 3.19 does not decode RDTSCP, which Go 1.26's runtime.cputicks
		# uses (lock spinning, sysmon): such a run dies with SIGILL.
		echo "callgrind run of $1 x$2 failed (see $log)" >&2
		echo 0
		return
	fi
	callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}'
	rm -f "$out"
}
one() {
	local a b
	a=$(count "$1" "$2")
	b=$(count "$1" $(( $2 * 2 )))
	if [ "$a" = 0 ] || [ "$b" = 0 ]; then
		printf '| `%s` | %d | failed |\n' "$1" "$2"
		return
	fi
	printf '| `%s` | %d | %d |\n' "$1" "$2" $(( (b - a) / $2 ))
}
echo '| benchmark (-cpu 1) | N | instructions/op |'
echo '|---|---|---|'
if [ $# -ge 2 ]; then one "$1" "$2"; exit; fi
for impl in foundation atomic genserver mutex; do one "BenchmarkConfigGet/impl=$impl/serial" 100000; done
for impl in foundation genserver mutex; do one "BenchmarkConfigUpdate/impl=$impl/serial" 5000; done
for impl in foundation genserver mutex; do one "BenchmarkEventsStore/impl=$impl/serial" 20000; done
for impl in foundation foundation-into mutex mutex-into; do one "BenchmarkEventsQuery/impl=$impl/serial" 5000; done
for impl in foundation foundation-handles genserver client_golang; do one "BenchmarkTelemetryExecute/impl=$impl/serial" 50000; done
