#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, etcd and helm from the Go module proxy into a cache
# directory outside the repository. Idempotent: a binary already in the cache is not rebuilt.
#
# Why a wrapper module: k8s.io/kubernetes requires its staging modules at v0.0.0 and maps them with
# relative replace directives, which a dependency's go.mod cannot carry. Our wrapper replaces each
# staging module with its published v0.<minor>.<patch> tag (see ../shared/reference/dev-infrastructure.md §1.2).
set -euo pipefail
K8S=${SL_K8S_VERSION:-1.36.3}
ETCD=${SL_ETCD_VERSION:-3.6.16}
HELM=${SL_HELM_VERSION:-3.19.5}
CACHE=${SL_CACHE_DIR:-$HOME/.cache/servicelinker}
OUT=${SL_BIN_DIR:-$CACHE/bin}
mkdir -p "$OUT" "$CACHE/build"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
STG=0.${K8S#1.}
MINOR=${K8S#1.}; MINOR=${MINOR%%.*}
log() { printf '[build-k8s-bins] %s\n' "$*" >&2; }

have() { [ -x "$OUT/$1" ] && [ -f "$OUT/$1.version" ] && [ "$(cat "$OUT/$1.version")" = "$2" ]; }

build_kube() {
  if have kube-apiserver "v$K8S" && have kube-controller-manager "v$K8S"; then log "kube v$K8S cached"; return; fi
  local w="$CACHE/build/kube-v$K8S"; mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init local/servicelinker-kube >/dev/null 2>&1
  local gomod; gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
  local mods; mods=$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#\1#p' "$gomod")
  local args=()
  for m in $mods; do args+=("-replace=$m=$m@v$STG"); done
  go mod edit "${args[@]}" -require="k8s.io/kubernetes@v$K8S"
  local ldf="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $p.gitVersion=v$K8S -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean"
  done
  for cmd in kube-apiserver kube-controller-manager; do
    have "$cmd" "v$K8S" && continue
    log "building $cmd v$K8S"
    go build -ldflags "$ldf" -o "$OUT/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$OUT/$cmd.tmp" "$OUT/$cmd"; echo "v$K8S" > "$OUT/$cmd.version"
  done
}

build_etcd() {
  if have etcd "v$ETCD"; then log "etcd v$ETCD cached"; return; fi
  local w="$CACHE/build/etcd-v$ETCD"; mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init local/servicelinker-etcd >/dev/null 2>&1
  go mod edit -require="go.etcd.io/etcd/server/v3@v$ETCD"
  log "building etcd v$ETCD"
  go build -ldflags "-s -w" -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$OUT/etcd.tmp" "$OUT/etcd"; echo "v$ETCD" > "$OUT/etcd.version"
}

build_helm() {
  if have helm "v$HELM"; then log "helm v$HELM cached"; return; fi
  log "building helm v$HELM"
  local gobin="$CACHE/build/helm-v$HELM"; mkdir -p "$gobin"
  GOFLAGS= GOBIN="$gobin" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM" "helm.sh/helm/v3/cmd/helm@v$HELM"
  mv "$gobin/helm" "$OUT/helm"; echo "v$HELM" > "$OUT/helm.version"
}

case "${1:-all}" in
  kube) build_kube ;;
  etcd) build_etcd ;;
  helm) build_helm ;;
  all) build_etcd; build_helm; build_kube ;;
  *) echo "usage: $0 [all|kube|etcd|helm]" >&2; exit 2 ;;
esac
log "done: $(ls "$OUT" | tr '\n' ' ')"
