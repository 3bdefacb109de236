#!/usr/bin/env bash
# Checks every module of the repository (the core module at the root and each
# nested module listed in go.work) without running its tests:
#   - its go.mod and go.sum are what `go mod tidy` writes, checked with
#     GOWORK=off (the workspace would hide a missing requirement);
#   - `go vet ./...` and `staticcheck ./...` report nothing.
# staticcheck is installed into $HOME/go/bin from the Go module proxy, at the
# pinned version below, when that version is not there yet.
# Usage: bash scripts/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2 # honnef.co/go/tools; `staticcheck -version` prints "(0.8.2)"
staticcheck="$HOME/go/bin/staticcheck"
if ! "$staticcheck" -version 2>/dev/null | grep -qF "(${STATICCHECK_VERSION#v})"; then
  echo "==> installing staticcheck $STATICCHECK_VERSION into $HOME/go/bin"
  GOBIN="$HOME/go/bin" GOWORK=off go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

modules=(.)
if [ -f go.work ]; then
  while read -r m; do
    [ "$m" = "." ] || modules+=("$m")
  done < <(go work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p')
fi

status=0
for m in "${modules[@]}"; do
  echo "==> $m: GOWORK=off go mod tidy -diff"
  (cd "$m" && GOWORK=off go mod tidy -diff) || { echo "FAIL: $m: go.mod/go.sum are not tidy (run: cd $m && GOWORK=off go mod tidy)"; status=1; }
  echo "==> $m: go vet ./..."
  (cd "$m" && go vet ./...) || status=1
  echo "==> $m: staticcheck ./..."
  (cd "$m" && "$staticcheck" ./...) || status=1
done
exit $status
