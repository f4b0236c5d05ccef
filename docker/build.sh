#!/usr/bin/env bash
# Builds Cairn's images without pulling anything: each is `FROM scratch`
# holding one stripped binary and the few shared libraries `ldd` says it
# loads (glibc's loader, libc, libm, libgcc_s), so no base image or
# registry is needed.
#
#   docker/build.sh                 # release build → cairn-origin, cairn-edge, cairn-wan :local
#   docker/build.sh --profile debug # reuse the test build (what .ci/run does)
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=release
TAG=${CAIRN_IMAGE_TAG:-local}
while [ $# -gt 0 ]; do
  case $1 in
    --profile) PROFILE=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    *) echo "usage: docker/build.sh [--profile release|debug] [--tag TAG]" >&2; exit 2 ;;
  esac
done
case $PROFILE in
  # The same command as scripts/test, so a test build is reused as is
  # (building a subset of packages would unify features differently).
  release) cargo build --release --locked --workspace --bins ;;
  debug) cargo build --locked --workspace --bins ;;
  *) echo "unknown profile $PROFILE" >&2; exit 2 ;;
esac

CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
for bin in cairn-origin cairn-edge cairn-wan; do
  root=$CTX/$bin/root
  mkdir -p "$root/data" "$root/cache"
  strip -o "$root/$bin" "target/$PROFILE/$bin"
  for lib in $(ldd "target/$PROFILE/$bin" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cat > "$CTX/$bin/Dockerfile" <<DOCKERFILE
FROM scratch
COPY root/ /
ENTRYPOINT ["/$bin"]
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build -q -t "$bin:$TAG" "$CTX/$bin" >/dev/null
  printf '%-22s %s\n' "$bin:$TAG" "$(docker image inspect -f '{{.Size}}' "$bin:$TAG" | awk '{printf "%.1f MB", $1/1e6}')"
done
