#!/usr/bin/env bash
# e2e/k8s/build.sh — builds the real Kubernetes binaries the e2e tier runs against
# (kube-apiserver, kubectl, etcd, helm) from the Go module proxy, and caches them.
#
# Why: the e2e tier needs a real kube-apiserver (CRD schemas + CEL, webhooks, RBAC, watches,
# TokenRequest/TokenReview) but the machines it runs on have no Docker and no download sites.
# Kubernetes is an ordinary Go module, so we compile it. See /work/shared/brief/K8S-TESTING.md.
#
# Idempotent: each binary has a stamp file recording the version it was built from; a binary is
# rebuilt only when the wanted version changes (or the binary is missing). Safe to call before
# every test run: when everything is cached it needs neither Go nor the network.
#
# Usage:   e2e/k8s/build.sh            build what is missing/outdated
#          e2e/k8s/build.sh --force    rebuild everything
#          e2e/k8s/build.sh --print-bin-dir
# Env:     SKILLGATE_K8S_BIN          cache folder (default: e2e/k8s/.bin, git-ignored)
#          SKILLGATE_K8S_VERSION      k8s.io/kubernetes version   (default below)
#          SKILLGATE_ETCD_VERSION     go.etcd.io/etcd/server/v3   (default: the version that
#                                     k8s.io/kubernetes itself requires, i.e. the tested one)
#          SKILLGATE_HELM_VERSION     helm.sh/helm/vN version      (default below)
#          GO                         go binary (default: `go` on PATH, else /usr/local/go/bin/go)
set -euo pipefail

K8S_VERSION="${SKILLGATE_K8S_VERSION:-v1.36.3}"
HELM_VERSION="${SKILLGATE_HELM_VERSION:-v3.22.0}"
ETCD_VERSION="${SKILLGATE_ETCD_VERSION:-}"   # resolved from k8s.io/kubernetes' go.mod when empty

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${SKILLGATE_K8S_BIN:-$SCRIPT_DIR/.bin}"
FORCE=0
case "${1:-}" in
  --force) FORCE=1 ;;
  --print-bin-dir) echo "$BIN"; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--force|--print-bin-dir]" >&2; exit 2 ;;
esac

log() { echo "[k8s-build] $*"; }
die() { echo "[k8s-build] ERROR: $*" >&2; exit 1; }

mkdir -p "$BIN"
BIN="$(cd "$BIN" && pwd)"

# One build at a time per cache folder (jest globalSetup and a human may race).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$BIN/.lock"
  if ! flock -n 9; then log "another build holds $BIN/.lock, waiting..."; flock 9; fi
fi

# stamp_ok NAME WANTED -> 0 when BIN/NAME exists and was built from WANTED.
stamp_ok() {
  [ "$FORCE" = 0 ] && [ -x "$BIN/$1" ] && [ -f "$BIN/.stamp-$1" ] && [ "$(cat "$BIN/.stamp-$1")" = "$2" ]
}

K8S_WANT="k8s.io/kubernetes@$K8S_VERSION"
HELM_MAJOR="${HELM_VERSION%%.*}"                       # v3 or v4
HELM_MOD="helm.sh/helm/$HELM_MAJOR"
HELM_WANT="$HELM_MOD@$HELM_VERSION"
# etcd's stamp depends on the k8s version when its version is derived from it.
ETCD_WANT="go.etcd.io/etcd/server/v3@${ETCD_VERSION:-from-$K8S_VERSION}"

need_k8s=0; need_etcd=0; need_helm=0
stamp_ok kube-apiserver "$K8S_WANT" && stamp_ok kubectl "$K8S_WANT" || need_k8s=1
stamp_ok etcd "$ETCD_WANT" || need_etcd=1
stamp_ok helm "$HELM_WANT" || need_helm=1

if [ $need_k8s = 0 ] && [ $need_etcd = 0 ] && [ $need_helm = 0 ]; then
  log "up to date in $BIN: kube-apiserver/kubectl $K8S_VERSION, etcd $("$BIN/etcd" --version 2>/dev/null | sed -n 's/^etcd Version: //p'), helm $HELM_VERSION"
  exit 0
fi

# ---- Go toolchain ---------------------------------------------------------------------------
GO="${GO:-$(command -v go || true)}"
[ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
[ -n "$GO" ] || die "Go >= 1.25 is needed to build the e2e binaries (or point KUBECONFIG at an existing cluster)"
GOV="$("$GO" env GOVERSION)"; GOV="${GOV#go}"
IFS=. read -r gomaj gomin _ <<<"$GOV"
if [ "$gomaj" -lt 1 ] || { [ "$gomaj" = 1 ] && [ "$gomin" -lt 25 ]; }; then
  die "Go >= 1.25 needed, found go$GOV ($GO)"
fi
# k8s.io/kubernetes v1.36 declares `go 1.26.0`: an older go (>= 1.21) fetches that toolchain from
# the module proxy by itself, unless GOTOOLCHAIN=local forbids it.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOFLAGS="${GOFLAGS:-} -mod=mod -buildvcs=false"   # let `go build` fill in go.sum in the throw-away modules
export GOWORK=off   # the throw-away modules sit inside this repo: never pick up a go.work above them
log "using $GO (go$GOV), GOPROXY=$("$GO" env GOPROXY), cache dir $BIN"

SRC="$BIN/src"   # throw-away Go modules live here (inside the git-ignored cache)
mkdir -p "$SRC"

# build_one NAME PKG MODDIR LDFLAGS STAMP: go build into BIN/NAME atomically and time it.
build_one() {
  local name="$1" pkg="$2" moddir="$3" ldflags="$4" stamp="$5" t0=$SECONDS
  log "building $name from $pkg ..."
  (cd "$moddir" && "$GO" build -trimpath -ldflags="-s -w $ldflags" -o "$BIN/.$name.tmp" "$pkg")
  mv -f "$BIN/.$name.tmp" "$BIN/$name"
  echo "$stamp" >"$BIN/.stamp-$name"
  log "built $name ($(du -h "$BIN/$name" | cut -f1)) in $((SECONDS - t0))s"
}

# ---- kube-apiserver, kubectl and etcd: one throw-away module requiring k8s.io/kubernetes -------
# k8s.io/kubernetes' go.mod replaces its ~30 staging modules (k8s.io/api, k8s.io/client-go, ...)
# with ./staging/... paths, and replace lines of a dependency are ignored; so we restate them as
# `replace k8s.io/NAME => k8s.io/NAME v0.Y.Z` (the published copy of each staging module).
# etcd is built in the same module at the version k8s requires, which shares compiled deps.
if [ $need_k8s = 1 ] || [ $need_etcd = 1 ]; then
  t0=$SECONDS
  log "fetching $K8S_WANT (large zip, first time only) ..."
  K8S_GOMOD="$("$GO" mod download -json "$K8S_WANT" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$K8S_GOMOD" ] || die "could not download $K8S_WANT"
  STAGING_VER="v0.${K8S_VERSION#v1.}"                  # v1.36.3 -> v0.36.3
  GO_LINE="$(grep -m1 '^go ' "$K8S_GOMOD")"
  if [ -z "$ETCD_VERSION" ]; then
    ETCD_VERSION="$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$K8S_GOMOD")"
    [ -n "$ETCD_VERSION" ] || die "cannot find go.etcd.io/etcd/server/v3 in $K8S_GOMOD; set SKILLGATE_ETCD_VERSION"
  fi
  STAGING="$(awk '$2=="=>" && $3 ~ /^\.\/staging\// {print $1}' "$K8S_GOMOD")"
  log "k8s $K8S_VERSION: $(echo "$STAGING" | wc -l) staging modules -> $STAGING_VER; etcd $ETCD_VERSION; $GO_LINE"
  MOD="$SRC/kubernetes"
  rm -rf "$MOD"; mkdir -p "$MOD"
  {
    echo "// Generated by e2e/k8s/build.sh: throw-away module to build $K8S_WANT binaries."
    echo "module skillgate.local/e2e-k8s-build"
    echo
    echo "$GO_LINE"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes $K8S_VERSION"
    echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    echo ")"
    echo
    echo "replace ("
    for m in $STAGING; do echo "	$m => $m $STAGING_VER"; done
    echo ")"
  } >"$MOD/go.mod"
  log "module ready in $MOD ($((SECONDS - t0))s)"

  # Version info normally injected by hack/lib/version.sh; without it the apiserver reports
  # v0.0.0-master, which breaks helm's kubeVersion checks and kubectl's skew warnings.
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  kver=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kver="$kver -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    kver="$kver -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  if [ $need_k8s = 1 ]; then
    build_one kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$MOD" "$kver" "$K8S_WANT"
    build_one kubectl k8s.io/kubernetes/cmd/kubectl "$MOD" "$kver" "$K8S_WANT"
  fi
  if [ $need_etcd = 1 ]; then
    build_one etcd go.etcd.io/etcd/server/v3 "$MOD" "" "$ETCD_WANT"
  fi
fi

# ---- helm: its own throw-away module (it pins its own k8s client libraries) -------------------
if [ $need_helm = 1 ]; then
  MOD="$SRC/helm"
  rm -rf "$MOD"; mkdir -p "$MOD"
  printf '// Generated by e2e/k8s/build.sh: throw-away module to build helm.\nmodule skillgate.local/e2e-helm-build\n\ngo 1.25\n\nrequire %s %s\n' \
    "$HELM_MOD" "$HELM_VERSION" >"$MOD/go.mod"
  build_one helm "$HELM_MOD/cmd/helm" "$MOD" "-X $HELM_MOD/internal/version.version=$HELM_VERSION" "$HELM_WANT"
fi

log "done: $(cd "$BIN" && ls kube-apiserver kubectl etcd helm 2>/dev/null | tr '\n' ' ')in $BIN"
