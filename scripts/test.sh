#!/usr/bin/env bash
# Runs every test of imgtool: sets up (or checks) Docker, buildx, compose,
# QEMU and the local registry, then lints and runs the whole test suite,
# the Docker-backed end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
# The VM disk of tests/vm_esp.rs (about 5 min the first time, mostly
# downloads and dpkg) is made while the linters and compilers run, and done
# before any test starts, so it never competes with the timed-out waits of
# the Docker tests. If it fails, the VM test fails with its own message.
mkdir -p target
bash scripts/vm/build-disk.sh >target/vm-disk.log 2>&1 &
vm_disk=$!
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
# The release binaries' targets (students' laptops): Windows and static
# Linux (musl) built, linked and checked, macOS compiled.
bash scripts/cross-check.sh
cargo test --no-run --quiet
wait "$vm_disk" || echo "test.sh: making the VM disk failed (target/vm-disk.log); tests/vm_esp.rs will say why"
cargo test --no-fail-fast
