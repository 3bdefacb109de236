#!/usr/bin/env bash
# Runs go vet and the race-enabled tests of every module of the repository:
# the core module at the root and each nested module listed in go.work.
# Usage: bash scripts/test.sh [extra go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."

modules=(.)
if [ -f go.work ]; then
  while read -r m; do
    [ "$m" = "." ] || modules+=("$m")
  done < <(go work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p')
fi

status=0
for m in "${modules[@]}"; do
  echo "==> $m: go vet ./..."
  (cd "$m" && go vet ./...) || status=1
  echo "==> $m: go test -race ./..."
  (cd "$m" && go test -race -timeout 20m "$@" ./...) || status=1
done
# The race detector builds internal/atomicx's fenced fallback; the fence-free
# stores that production builds use on amd64 are tested by a run without it.
echo "==> .: go test (no -race) ./internal/... ./ring/ ./shard/ . (the fence-free publish and in-place write paths)"
go test -timeout 20m "$@" ./internal/... ./ring/ ./shard/ . || status=1
exit $status
