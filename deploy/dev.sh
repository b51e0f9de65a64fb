#!/usr/bin/env bash
# The README's two commands.
#   deploy/dev.sh run [switchboard args...]  install what is missing, build, start the server
#   deploy/dev.sh test                       install what is missing, build, run the test suite
# Works on a fresh Debian 12 as root (or with sudo) with only a compiler and cmake.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PACKAGES=(cmake g++ make pkg-config ccache libcaf-dev libboost-dev
  rapidjson-dev libcpp-httplib-dev libsoci-dev catch2 libphonenumber-dev
  libssl-dev libsqlite3-dev libpq-dev libmariadb-dev zlib1g-dev libbrotli-dev
  tzdata)
# Real peers for the tests: a PostgreSQL server, a MariaDB server (a PBX's
# CDR database), promtool and Prometheus; python3 with YAML for the
# compose-file check and the free-port picker; clang with libFuzzer for the
# short fuzz runs; a browser for the operator console's test.
TEST_PACKAGES=(postgresql mariadb-server prometheus sqlite3 procps python3
  python3-yaml clang libclang-rt-14-dev chromium)
# The OpenAPI linter and the browser driver the tests run, installed outside
# the repository.
TOOLS_DIR=${SB_TOOLS_DIR:-$HOME/.cache/switchboard/tools}
REDOCLY_VERSION=1.34.5
PLAYWRIGHT_VERSION=1.65.1

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    as_root apt-get update -qq
    # Debian's postgresql package tries to start a cluster; the tests start
    # their own, so a missing init system is fine.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j2
}

cmd=${1:-}
shift || true
case "$cmd" in
  run)
    install_missing "${BUILD_PACKAGES[@]}"
    build build -DSWITCHBOARD_TESTS=OFF
    exec build/switchboard "$@"
    ;;
  test)
    install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    # The OpenAPI linter runs on Node.js. A Node.js that is already there
    # (NodeSource's package brings its own npm, which Debian's npm package
    # conflicts with) is used as it is.
    command -v npm >/dev/null || install_missing nodejs npm
    redocly="$TOOLS_DIR/redocly/node_modules/.bin/redocly"
    if [ ! -x "$redocly" ] || [ "$("$redocly" --version)" != "$REDOCLY_VERSION" ]; then
      echo "== installing @redocly/cli@$REDOCLY_VERSION into $TOOLS_DIR/redocly"
      mkdir -p "$TOOLS_DIR/redocly"
      npm install --prefix "$TOOLS_DIR/redocly" --no-audit --no-fund \
        "@redocly/cli@$REDOCLY_VERSION" >/dev/null
    fi
    # playwright-core drives Debian's chromium (it downloads no browser).
    playwright="$TOOLS_DIR/playwright/node_modules/playwright-core"
    if [ "$(node -p "require('$playwright/package.json').version" 2>/dev/null)" \
         != "$PLAYWRIGHT_VERSION" ]; then
      echo "== installing playwright-core@$PLAYWRIGHT_VERSION into $TOOLS_DIR/playwright"
      mkdir -p "$TOOLS_DIR/playwright"
      npm install --prefix "$TOOLS_DIR/playwright" --no-audit --no-fund \
        "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
    fi
    export SB_PLAYWRIGHT_CORE="$playwright"
    build build-tests -DSWITCHBOARD_TESTS=ON -DSB_REDOCLY="$redocly" \
      ${SWITCHBOARD_CMAKE_ARGS:-}
    tests/with-databases.sh ctest --test-dir build-tests --output-on-failure
    # Every parser of outside input under libFuzzer for a few seconds each
    # (a clang tree of its own: the fuzzer's instrumentation is clang's).
    cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER=clang++ -DSWITCHBOARD_FUZZ=ON -DSWITCHBOARD_TESTS=OFF >/dev/null
    cmake --build build-fuzz -j2 --target fuzzers
    exec ctest --test-dir build-fuzz --output-on-failure
    ;;
  *)
    echo "usage: $0 run [server args...] | test" >&2
    exit 2
    ;;
esac
