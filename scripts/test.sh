#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, builds twice
# (RelWithDebInfo, then AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test
# (unit tests in simulated time, integration tests against a throwaway PostgreSQL cluster and
# loopback HTTP servers that the tests start themselves, end-to-end tests of the real binary).
#
#   scripts/test.sh            # everything
#   SKIP_DEPS=1 scripts/test.sh
#   SKIP_ASAN=1 scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  scripts/install-deps.sh
fi

export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
jobs=${JOBS:-2}

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== tests (RelWithDebInfo)"
ctest --test-dir build --output-on-failure --timeout 300

if [ "${SKIP_ASAN:-0}" != 1 ]; then
  echo "== build (ASan + UBSan)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DACIS_SANITIZE=ON -DACIS_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== tests (ASan + UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions="$root/tests/lsan.supp" \
    ctest --test-dir build-asan --output-on-failure --timeout 600
fi
echo "== all tests passed"
