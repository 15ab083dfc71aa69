#!/bin/sh
# build.sh - the one recipe that builds newsstand on Debian 12, shared by the
# image's build stage (docker/Dockerfile) and by `make test`, which CI runs:
# what CI builds is what the image ships, and a missing package fails both.
#
#   sh docker/build.sh [--deps-only] [EXTRA_PACKAGE...]
#
# 1. installs, with apt-get, whichever of the build packages (and the extra
#    Debian packages named, e.g. the test tools) are missing; root or sudo;
# 2. unless --deps-only: `make newsstand`, then writes
#    build/runtime-packages.txt, the Debian packages that hold the shared
#    libraries ./newsstand links against: the image's run stage installs
#    exactly those.
set -eu
cd "$(dirname "$0")/.."

BUILD_PKGS="gcc libc6-dev make pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev
            libsodium-dev libutf8proc-dev zlib1g-dev"

deps_only=false
if [ "${1:-}" = "--deps-only" ]; then
    deps_only=true
    shift
fi

missing=""
for p in $BUILD_PKGS "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
$deps_only && exit 0

make newsstand
# Each NEEDED library, found under this machine's multiarch directory, to the
# package that owns it; dpkg -S fails the build when one has no package.
multiarch=$(${CC:-cc} -print-multiarch)
needed=$(objdump -p newsstand | awk -v dir="$multiarch" '$1 == "NEEDED" { print "*/" dir "/" $2 }')
owners=$(echo "$needed" | xargs dpkg -S)
echo "$owners" | cut -d: -f1 | sort -u >build/runtime-packages.txt
