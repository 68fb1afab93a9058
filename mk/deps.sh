#!/bin/sh
# Installs what the build and the tests need, from Debian's packages and npm,
# when it is missing. Says what it installs; where it cannot (not root, no
# sudo) it stops with the exact command to run. Usage: mk/deps.sh [build|deb|test]
set -u
want=${1:-test}
missing=""

need_pc() { # pkg-config name, Debian package
    pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"
}
need_cmd() { # command, Debian package
    command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}

command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
need_cmd cc gcc
need_cmd make make
need_pc sdl2 libsdl2-dev
need_pc libserialport libserialport-dev
need_pc libcjson libcjson-dev
need_pc libpcap libpcap-dev # --trace-pcap (docs/trace.md)
need_cmd pandoc pandoc      # metersim.1 from docs/cli.md (make install, mk/man.lua)
# make deb (and tests/deploy/test_deb.sh): the Debian package's tools
if [ "$want" = test ] || [ "$want" = deb ]; then
    need_cmd dh debhelper
    need_cmd dpkg-buildpackage dpkg-dev
    need_cmd fakeroot fakeroot
    need_cmd lintian lintian
fi
need_pc libmicrohttpd libmicrohttpd-dev # --http (docs/http.md)
need_cmd xxd xxd                        # embeds frontends/web/ in the binary
if [ "$want" = test ]; then
    need_pc cmocka libcmocka-dev
    need_pc libmodbus libmodbus-dev
    need_cmd mbpoll mbpoll
    need_cmd socat socat
    need_cmd clang clang
    need_cmd clang-format clang-format # make check-format
    need_cmd ss iproute2               # tests and benchmarks wait for listening ports
    # tests/install/test_man.sh runs the installed bash completion
    [ -f /usr/share/bash-completion/bash_completion ] || missing="$missing bash-completion"
    need_cmd curl curl                 # tests/cli/test_http*.sh
    # libFuzzer and the sanitizers' runtime for clang 14
    [ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] ||
        missing="$missing libclang-rt-14-dev"
    /usr/bin/python3 -c 'import pymodbus, serial' >/dev/null 2>&1 ||
        missing="$missing python3-pymodbus python3-serial"
    /usr/bin/python3 -c 'import jsonschema' >/dev/null 2>&1 ||
        missing="$missing python3-jsonschema"
    # tests/deploy: the Kubernetes manifests parsed as YAML
    /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || missing="$missing python3-yaml"
    # node-gyp builds node-mbus against Node's own headers (Debian: libnode-dev),
    # never downloading them.
    [ -f /usr/include/node/node.h ] || missing="$missing libnode-dev"
    need_cmd Xvfb xvfb
    # node-mbus (tests/interop/test_node_mbus.sh): node and npm, and g++ for
    # node-gyp, which builds its libmbus (python3 and make are above).
    need_cmd node nodejs
    need_cmd npm npm
    need_cmd g++ g++
    # the traces checked by outside tools (tests/cli/test_trace_*.sh)
    need_cmd sigrok-cli sigrok-cli
    need_cmd tshark tshark
    # the web page's browser test (tests/browser): Debian's chromium, driven
    # by npm's playwright-core (below), which never downloads a browser
    need_cmd chromium chromium
fi

# The npm packages of tests/interop/mbus (node-mbus, pinned by its
# package-lock.json) into its node_modules, when missing. Runs after apt.
npm_deps() {
    [ "$want" = test ] || return 0
    dir="$(dirname "$0")/../tests/interop/mbus"
    [ -f "$dir/node_modules/node-mbus/build/Release/mbus.node" ] && return 0
    command -v npm >/dev/null 2>&1 || {
        echo "deps: npm is missing; run: apt-get install -y nodejs npm g++" >&2
        return 1
    }
    echo "deps: installing node-mbus into tests/interop/mbus/node_modules (npm ci)" >&2
    # Node's own headers for node-gyp, so it does not try to download them.
    [ -f /usr/include/node/node.h ] && export npm_config_nodedir=/usr
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || {
        echo "deps: npm ci failed; run: cd tests/interop/mbus && npm ci" >&2
        return 1
    }
}

# playwright-core (pinned by tests/browser/package-lock.json) into
# tests/browser/node_modules, when missing. The package alone: no browser is
# downloaded (the test drives Debian's chromium).
npm_browser() {
    [ "$want" = test ] || return 0
    dir="$(dirname "$0")/../tests/browser"
    [ -f "$dir/node_modules/playwright-core/package.json" ] && return 0
    command -v npm >/dev/null 2>&1 || {
        echo "deps: npm is missing; run: apt-get install -y nodejs npm" >&2
        return 1
    }
    echo "deps: installing playwright-core into tests/browser/node_modules (npm ci)" >&2
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) || {
        echo "deps: npm ci failed; run: cd tests/browser && npm ci" >&2
        return 1
    }
}

[ -z "$missing" ] && { npm_deps && npm_browser; exit; }

echo "deps: installing$missing" >&2
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
else
    echo "deps: missing$missing; run as root:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists: update once, then install.
$SUDO apt-get install -y -qq $missing >/dev/null 2>&1 || {
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing
} || {
    echo "deps: apt-get install failed; run: apt-get update && apt-get install -y$missing" >&2
    exit 1
}
npm_deps && npm_browser
