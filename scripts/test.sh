#!/usr/bin/env bash
# Runs every test of imgtool: sets up (or checks) Docker, buildx, compose,
# QEMU and the local registry, then lints and runs the whole test suite,
# the Docker-backed end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
# The release binaries' targets (students' laptops): Windows and static
# Linux (musl) built, linked and checked, macOS compiled.
bash scripts/cross-check.sh
cargo test --no-fail-fast
