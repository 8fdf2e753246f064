#!/usr/bin/env bash
# Runs every test of imgtool: sets up (or checks) Docker, buildx, compose,
# QEMU and the local registry, then lints and runs the whole test suite,
# the Docker-backed end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
# Long jobs run beside the rest, on this 2-core machine's idle time:
# - the VM disk of tests/vm_esp.rs (about 5 min the first time, mostly
#   downloads and dpkg), while the linters and compilers run, awaited
#   before any test starts; if it fails, the VM test says why;
# - the two static Linux builds of scripts/cross-check.sh, which the
#   imgtool image carries (imgtool.toml: binaries), beside the linters and
#   awaited before the tests, since most Docker tests build that image;
# - the rest of scripts/cross-check.sh (Windows built and linked, macOS
#   compiled), while the Docker tests mostly wait on containers.
# The cross-check logs are printed at the end; a failure fails this script.
mkdir -p target
bash scripts/vm/build-disk.sh >target/vm-disk.log 2>&1 &
vm_disk=$!
bash scripts/cross-check.sh x86_64-unknown-linux-musl aarch64-unknown-linux-musl >target/cross-check-linux.log 2>&1 &
linux_bins=$!
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --no-run --quiet
wait "$vm_disk" || echo "test.sh: making the VM disk failed (target/vm-disk.log); tests/vm_esp.rs will say why"
cross_check=0
wait "$linux_bins" || cross_check=$?
bash scripts/cross-check.sh x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin >target/cross-check.log 2>&1 &
cross=$!
tests=0
cargo test --no-fail-fast || tests=$?
wait "$cross" || cross_check=$?
cat target/cross-check-linux.log target/cross-check.log
if [ "$cross_check" != 0 ]; then echo "test.sh: scripts/cross-check.sh failed (above)"; fi
[ "$tests" = 0 ] && [ "$cross_check" = 0 ]
