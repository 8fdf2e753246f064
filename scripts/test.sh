#!/usr/bin/env bash
# Runs every test of imgtool: sets up (or checks) Docker, buildx, compose,
# QEMU and the local registry, then lints and runs the whole test suite,
# the Docker-backed end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
# Two long jobs run beside the rest, on this 2-core machine's idle time:
# - the VM disk of tests/vm_esp.rs (about 5 min the first time, mostly
#   downloads and dpkg), while the linters and compilers run, awaited
#   before any test starts; if it fails, the VM test says why;
# - scripts/cross-check.sh (the release binaries' targets: Windows and
#   static Linux built, linked and checked, macOS compiled; about 10 min
#   cold, all compiling), while the Docker tests mostly wait on containers.
#   Its log is printed at the end, and its failure fails this script.
mkdir -p target
bash scripts/vm/build-disk.sh >target/vm-disk.log 2>&1 &
vm_disk=$!
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
bash scripts/cross-check.sh >target/cross-check.log 2>&1 &
cross=$!
cargo test --no-run --quiet
wait "$vm_disk" || echo "test.sh: making the VM disk failed (target/vm-disk.log); tests/vm_esp.rs will say why"
tests=0
cargo test --no-fail-fast || tests=$?
cross_check=0
wait "$cross" || cross_check=$?
cat target/cross-check.log
if [ "$cross_check" != 0 ]; then echo "test.sh: scripts/cross-check.sh failed (above)"; fi
[ "$tests" = 0 ] && [ "$cross_check" = 0 ]
