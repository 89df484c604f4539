#!/usr/bin/env bash
# Installs everything acis-healthd needs to build, test and run its demo on Debian 12.
# Debian packages only (see README "Stack"). Safe to run again.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  g++ cmake make pkgconf ccache \
  libboost1.81-dev libpqxx-dev nlohmann-json3-dev libspdlog-dev libfmt-dev prometheus-cpp-dev \
  libgtest-dev libgmock-dev googletest libsystemd-dev \
  postgresql-15 postgresql-client-15 \
  curl jq procps iproute2 util-linux time hyperfine \
  prometheus prometheus-alertmanager \
  systemd nodejs node-acorn \
  chromium
