#!/usr/bin/env bash
# Runs every benchmark that PERF.md cites, in one go, and writes the raw
# output to a directory under perf-out/ (ignored by git): one file per step,
# each starting with the command that produced it and the date and load
# average when it started. env.txt holds the machine, the Go version and the
# commit. Then it renders PERF.md's tables from that directory
# (bench/cmd/perftables) into <dir>/PERF.tables.md; with -update it rewrites
# the tables of PERF.md itself.
#
# Usage: bash scripts/perf.sh [-update] [-quick] [-only STEP,...] [-out DIR]
#
#   -update   rewrite the tables of PERF.md from this run
#   -quick    shorter benchtimes and -count 1 (a smoke test of the script:
#             its figures are not for PERF.md)
#   -only     run only these steps (names below), e.g. -only ring,shard
#   -out      the output directory (default perf-out/bench-<UTC date>)
#
# Steps (6 minutes in all on an idle 2-core machine): seedtable, config, events,
# query, queryinto, telemetry, histmem, refusedmem, ring, metrics, cfgsnap, shard,
# bench-store, bench-page, prometheus, otel, nats, harness, callgrind. The
# callgrind step needs valgrind and is skipped without it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

update=0 quick=0 only="" out=""
while [ $# -gt 0 ]; do
	case "$1" in
	-update) update=1 ;;
	-quick) quick=1 ;;
	-only) only="$2"; shift ;;
	-out) out="$2"; shift ;;
	-h | -help | --help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "usage: bash scripts/perf.sh [-update] [-quick] [-only STEP,...] [-out DIR]" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || out="perf-out/bench-$(date -u +%Y%m%dT%H%M)"
mkdir -p "$out/bin"
out=$(cd "$out" && pwd)

# count: rounds of each go test benchmark (the tables show the median).
count=5 bt=1 # bt scales the benchtimes below (-quick: a tenth)
if [ $quick = 1 ]; then count=1 bt=0; fi
# t MS: a benchtime of MS milliseconds (10 ms with -quick).
t() { if [ $bt = 1 ]; then echo "${1}ms"; else echo 10ms; fi; }
# x N: a benchtime of N iterations (N/10, at least 1, with -quick).
x() { if [ $bt = 1 ]; then echo "${1}x"; else echo "$(( $1 / 10 > 0 ? $1 / 10 : 1 ))x"; fi; }

load() { cut -d' ' -f1-3 /proc/loadavg; }
# q ARGS...: the arguments as a shell command line (quoted where needed).
q() {
	local a out=()
	for a; do
		if [[ $a =~ ^[A-Za-z0-9_./,=:+-]+$ ]]; then out+=("$a"); else out+=("'${a//\'/\'\\\'\'}'"); fi
	done
	echo "${out[*]}"
}
want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

# step NAME DIR CMD...: runs CMD in DIR, output to $out/NAME.txt.
step() {
	local name=$1 dir=$2
	shift 2
	want "$name" || return 0
	local f="$out/$name.txt" rc=0
	{
		local show=${SHOW:-$(q "$@")}
		if [ "$dir" = . ]; then echo "# command: $show"; else echo "# command: cd $dir && $show"; fi
		echo "# start: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(load)"
	} >"$f"
	printf '==> %-12s %s\n' "$name" "${SHOW:-$(q "$@")}" >&2
	(cd "$root/$dir" && "$@") >>"$f" 2>&1 || rc=$?
	echo "# end: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(load), exit $rc" >>"$f"
	[ $rc = 0 ] || echo "    $name failed (exit $rc): see $f" >&2
}

# bstep NAME DIR PKG FLAGS...: builds the test binary of package PKG of the
# module in DIR once, then runs its benchmarks $count times in turns: each
# round runs every implementation of a benchmark, so that a change of the
# machine's load falls on all of them, not on the last few. FLAGS are the
# binary's (-test.bench, -test.cpu, -test.benchtime).
bstep() {
	local name=$1 dir=$2 pkg=$3
	shift 3
	local show="go test -c -o $name.test $pkg && " run="./$name.test"
	if [ "$pkg" != . ]; then show+="cd ${pkg#./} && "; run="../$name.test"; fi
	show+="for i in $(seq -s' ' $count); do $run -test.run '^\$' -test.benchmem $(q "$@"); done"
	SHOW=$show step "$name" "$dir" runbench "$out/bin/$name.test" "$pkg" "$@"
}
runbench() {
	local bin=$1 pkg=$2 i rc=0
	shift 2
	go test -c -o "$bin" "$pkg" && cd "$pkg" || return
	for ((i = 0; i < count; i++)); do "$bin" -test.run '^$' -test.benchmem "$@" || rc=$?; done
	return $rc
}

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!PERF.md' || echo ' (with local changes)')"
	echo "go: $(go version | cut -d' ' -f3-)"
	echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc)"
	echo "memory: $(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
	echo "kernel: $(uname -sr), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)"
	echo "load at start: $(load)"
	[ -z "$only" ] || echo "only: $only"
} >"$out/env.txt"
cat "$out/env.txt" >&2
start=$(date +%s)

# The seed table: every operation of the design documents' table, every peer.
step seedtable bench go run ./cmd/seedtable -benchtime "$(t 200)"

# Config, Events and Telemetry of the root package.
bstep config . . -test.bench '^BenchmarkConfig' -test.cpu 1,2 -test.benchtime "$(t 60)"
bstep events . . -test.bench '^Benchmark(Store|StoreParallel|StoreBatch|EventGet)$' -test.cpu 1,2 -test.benchtime "$(t 200)"
bstep query . . -test.bench '^Benchmark(Query|QueryPage)$' -test.cpu 1 -test.benchtime "$(x 40)"
# Query against QueryInto: enough queries that the collector runs, as it
# would under a steady load of allocating queries.
bstep queryinto . . -test.bench '^BenchmarkQuery(Into)?$' -test.cpu 1 -test.benchtime "$(x 2000)"
bstep telemetry . . -test.bench '^BenchmarkTelemetry' -test.cpu 1,2 -test.benchtime "$(t 120)"
step histmem . go test -count 1 -v -run '^TestHistogramMemory$' ./metrics
step refusedmem . go test -count 1 -v -run '^TestRefusedNamesMemory$' .

# The generic packages.
bstep ring . ./ring -test.bench . -test.cpu 1,2 -test.benchtime "$(t 60)"
bstep metrics . ./metrics -test.bench . -test.cpu 1,2 -test.benchtime "$(t 60)"
bstep cfgsnap . ./cfgsnap -test.bench . -test.cpu 1,2 -test.benchtime "$(t 60)"
bstep shard . ./shard -test.bench . -test.cpu 1,2 -test.benchtime "$(t 60)"

# The event store against the GenServer port and the mutex design, from bench/.
bstep bench-store bench . -test.bench '^BenchmarkEventsStoreTwoGoroutines$' -test.cpu 2 -test.benchtime "$(x 200000)"
count=$(( count < 2 ? count : 2 )) bstep bench-page bench . -test.bench '^BenchmarkEventsPage$' -test.cpu 2 -test.benchtime "$(x 20)"

# The integrations, each from its own module.
bstep prometheus prometheus . -test.bench . -test.cpu 1,2 -test.benchtime "$(t 120)"
bstep otel otel . -test.bench . -test.cpu 1,2 -test.benchtime "$(t 120)"
count=1 bstep nats nats . -test.bench . -test.benchtime "$(t 1000)"

# The profiling harness, and the same workload on the GenServer port.
d=10s
[ $quick = 1 ] && d=2s
hout=$out/harness
[[ $hout == "$root"/* ]] && hout=${hout#"$root"/}
step harness . go run ./perf -duration $d -compare -profiles none -out "$hout"

# Instructions per operation (load-independent), when valgrind is there.
if command -v valgrind >/dev/null; then
	step callgrind bench bash scripts/callgrind.sh
fi

echo "load at end: $(load), $(( $(date +%s) - start )) s in all" >>"$out/env.txt"
ln -sfn "$out" "$root/perf-out/bench-latest"
(cd bench && go run ./cmd/perftables -raw "$out" -doc ../PERF.md >"$out/PERF.tables.md") ||
	echo "perftables failed" >&2
if [ $update = 1 ]; then
	(cd bench && go run ./cmd/perftables -raw "$out" -doc ../PERF.md -update)
	echo "PERF.md: tables rewritten from $out" >&2
fi
echo "raw output: $out ($(( $(date +%s) - start )) s)" >&2
