#!/usr/bin/env bash
# Cross-compiles imgtool for the platforms it ships on besides Linux/glibc,
# with the same builder per target as the release workflow
# (.github/workflows/release.yml, job `binaries`), so what is released is
# what was built here:
#   x86_64-pc-windows-gnu        build and link (Debian's mingw-w64 as C
#                                compiler and linker); the .exe may import
#                                only Windows' own DLLs (no mingw runtime)
#   x86_64-unknown-linux-musl    build and link with Debian's musl-tools, then
#                                check that it is static and run --version
#   aarch64-unknown-linux-musl   build and link with cargo-zigbuild, then
#                                check that it is static AArch64 and run
#                                --version under qemu-aarch64 (binfmt)
#   aarch64-apple-darwin         cargo check of the lib and bin, with zig (PyPI's
#   x86_64-apple-darwin          ziglang, driven by cargo-zigbuild) as C compiler
#                                for the build scripts (ring); the macOS link
#                                needs Apple's SDK and is left to macOS runners.
# Installs what is missing first (rustup targets, gcc-mingw-w64-x86-64,
# musl-tools, a Python venv with cargo-zigbuild and ziglang); a second run
# only checks. Builds go to target/cross, so they never wait on the main
# build's lock, with the `cross` profile (Cargo.toml: dev without debug info),
# since they only have to link and answer --version; releases use `dist`.
# The checks use `cross` too, so the host's build scripts are shared.
# The two static Linux builds are copied to target/image-bin/linux-<arch>/,
# where the imgtool image's build takes them from.
#
# Usage: scripts/cross-check.sh [TARGET...]   (default: all five)
# Prints one line per target; exits non-zero if any target fails.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1
VENV=/var/cache/imgtool-setup/zig-venv
LOG=/var/log/imgtool-setup
TARGET_DIR=target/cross
ALL_TARGETS=(x86_64-pc-windows-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl aarch64-apple-darwin
  x86_64-apple-darwin)

say() { printf 'cross-check: %s\n' "$*"; }
die() {
  say "$*" >&2
  exit 1
}
# Runs "$@" with its output appended to log file $1; shows the log's tail if it fails.
logged() {
  local log=$LOG/$1
  shift
  if ! "$@" >>"$log" 2>&1; then
    tail -20 "$log" >&2
    die "failed: $* (log: $log)"
  fi
}

if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${ALL_TARGETS[@]}"); fi
need_windows=0
need_musl=0
need_zig=0
for t in "${targets[@]}"; do
  case $t in
  x86_64-pc-windows-gnu) need_windows=1 ;;
  x86_64-unknown-linux-musl) need_musl=1 ;;
  aarch64-unknown-linux-musl | *-apple-darwin) need_zig=1 ;;
  *) die "unknown target '$t' (known: ${ALL_TARGETS[*]})" ;;
  esac
done
mkdir -p "$LOG"

# --- what the builds need ------------------------------------------------------
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
  if ! grep -qx "$t" <<<"$installed"; then
    say "rustup target add $t"
    logged cross-rustup.log rustup target add "$t"
  fi
done

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    logged cross-apt-update.log flock /var/lock/imgtool-apt.lock apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  logged cross-apt-install.log env DEBIAN_FRONTEND=noninteractive flock /var/lock/imgtool-apt.lock apt-get install -y -qq --no-install-recommends "$@"
}

if [ "$need_windows" = 1 ] && ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
  apt_install gcc-mingw-w64-x86-64
fi
# musl-gcc: cc-rs compiles ring's C with it for x86_64-unknown-linux-musl.
if [ "$need_musl" = 1 ] && ! command -v musl-gcc >/dev/null 2>&1; then
  apt_install musl-tools
fi

zig_ok() {
  [ "$("$VENV/bin/cargo-zigbuild" --version 2>/dev/null)" = "cargo-zigbuild $CARGO_ZIGBUILD_VERSION" ] &&
    [ "$("$VENV/bin/python" -m ziglang version 2>/dev/null)" = "$ZIGLANG_VERSION" ]
}
if [ "$need_zig" = 1 ] && ! zig_ok; then
  if [ ! -x "$VENV/bin/pip" ] || ! "$VENV/bin/python" -c '' 2>/dev/null; then
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    say "python3 -m venv $VENV"
    if ! python3 -m venv "$VENV" >>"$LOG/cross-venv.log" 2>&1; then
      # Debian's own python3 makes venvs only with python3-venv.
      rm -rf "$VENV"
      apt_install python3-venv
      logged cross-venv.log /usr/bin/python3 -m venv "$VENV"
    fi
  fi
  say "pip install cargo-zigbuild==$CARGO_ZIGBUILD_VERSION ziglang==$ZIGLANG_VERSION"
  logged cross-pip.log "$VENV/bin/pip" install --quiet "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" "ziglang==$ZIGLANG_VERSION"
  zig_ok || die "cargo-zigbuild or zig in $VENV does not answer with the expected version (log: $LOG/cross-pip.log)"
fi

# --- what is checked after a build ------------------------------------------------
version=$(cargo pkgid)
version=${version##*[#@]}

# Prints why an ELF binary is not a static one for machine $2 (readelf's
# name for it), or nothing.
not_static() {
  local machine
  machine=$(readelf -hW "$1" | sed -n 's/^ *Machine: *//p')
  [ "$machine" = "$2" ] || echo "machine is '$machine', not '$2'"
  if readelf -lW "$1" | grep -q 'program interpreter'; then echo "it asks for a dynamic loader"; fi
  if readelf -dW "$1" | grep -q '(NEEDED)'; then echo "it needs shared libraries: $(readelf -dW "$1" | grep -c '(NEEDED)')"; fi
}

# How an aarch64 binary runs here: directly when binfmt_misc hands it to
# qemu-aarch64 (scripts/setup-debian.sh registers it), else through
# qemu-aarch64 named explicitly.
aarch64_runner() {
  if [ "$(head -1 /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null)" = enabled ]; then
    runner=() runner_how="binfmt qemu-aarch64"
  elif command -v qemu-aarch64 >/dev/null 2>&1 || command -v qemu-aarch64-static >/dev/null 2>&1; then
    runner=("$(command -v qemu-aarch64 || command -v qemu-aarch64-static)") runner_how="qemu-aarch64 (no binfmt)"
  else
    return 1
  fi
}

# Checks the binary of target $1 at $2 beyond linking; prints what it saw
# on success, the reason on failure.
verify() {
  local t=$1 bin=$2 why out
  case $t in
  x86_64-pc-windows-gnu)
    # A DLL of mingw's runtime (libgcc_s_seh-1.dll, libwinpthread-1.dll)
    # would be missing on a student's Windows; Windows' own DLLs never
    # start with "lib".
    why=$(x86_64-w64-mingw32-objdump -p "$bin" | sed -n 's/^[[:space:]]*DLL Name: //p' | grep -i '^lib' || true)
    [ -z "$why" ] || { echo "it imports mingw runtime DLLs: $why"; return 1; }
    echo "only Windows DLLs"
    ;;
  *-linux-musl)
    local machine=AArch64 runner=() runner_how=native
    if [ "$t" = x86_64-unknown-linux-musl ]; then machine="Advanced Micro Devices X86-64"; fi
    why=$(not_static "$bin" "$machine")
    [ -z "$why" ] || { echo "not a static $machine binary: $why"; return 1; }
    if [ "$machine" = AArch64 ] && ! aarch64_runner; then
      echo "cannot run it: no qemu-aarch64 binfmt handler or qemu-aarch64 (scripts/setup-debian.sh installs them)"
      return 1
    fi
    if ! out=$("${runner[@]}" "$bin" --version 2>&1); then
      echo "--version failed ($runner_how): $out"
      return 1
    fi
    [ "$out" = "imgtool $version" ] || { echo "--version printed '$out', not 'imgtool $version'"; return 1; }
    echo "static, --version: $out ($runner_how)"
    ;;
  esac
}

# --- the builds ------------------------------------------------------------------
mkdir -p "$TARGET_DIR"
failed=()
for t in "${targets[@]}"; do
  log=$TARGET_DIR/$t.log
  start=$SECONDS
  bin=
  case $t in
  x86_64-pc-windows-gnu | x86_64-unknown-linux-musl)
    what="build (linked)"
    cmd=(cargo build --profile cross --target "$t" --target-dir "$TARGET_DIR" --bin imgtool)
    bin=$TARGET_DIR/$t/cross/imgtool
    if [ "$t" = x86_64-pc-windows-gnu ]; then bin=$bin.exe; fi
    ;;
  aarch64-unknown-linux-musl)
    what="build (linked)"
    # cargo-zigbuild finds zig as `python3 -m ziglang`: the venv's python first.
    cmd=(env "PATH=$VENV/bin:$PATH" cargo-zigbuild build --profile cross --target "$t" --target-dir "$TARGET_DIR"
      --bin imgtool)
    bin=$TARGET_DIR/$t/cross/imgtool
    ;;
  *)
    what="check"
    # The same profile as the builds: their build scripts and proc macros
    # (compiled for this host) are then made once, not twice.
    cmd=(env "PATH=$VENV/bin:$PATH" cargo-zigbuild check --profile cross --target "$t" --target-dir "$TARGET_DIR" --lib
      --bins)
    ;;
  esac
  if "${cmd[@]}" >"$log" 2>&1; then
    # Summed from cargo's "`imgtool` (lib) generated N warnings" lines.
    warnings=$(awk '/^warning: .* generated [0-9]+ warnings?/ { for (i = 1; i < NF; i++) if ($i == "generated") n += $(i + 1) }
      END { print n + 0 }' "$log")
    if [ -z "$bin" ]; then
      say "$t: ok, $what, $((SECONDS - start)) s, $warnings warning(s) (log: $log)"
    elif seen=$(verify "$t" "$bin"); then
      say "$t: ok, $what, $seen, $((SECONDS - start)) s, $warnings warning(s) (log: $log)"
      # The static Linux builds are what the imgtool image carries
      # (imgtool.toml: binaries = "target/image-bin").
      case $t in
      x86_64-unknown-linux-musl) image_bin=target/image-bin/linux-amd64 ;;
      aarch64-unknown-linux-musl) image_bin=target/image-bin/linux-arm64 ;;
      *) image_bin= ;;
      esac
      if [ -n "$image_bin" ]; then mkdir -p "$image_bin" && cp "$bin" "$image_bin/imgtool"; fi
    else
      say "$t: FAILED, $what but $seen ($bin), $((SECONDS - start)) s"
      failed+=("$t")
    fi
  else
    say "$t: FAILED, $what, $((SECONDS - start)) s; first errors (full log: $log):"
    if grep -q '^error' "$log"; then
      grep -E -A15 '^error' "$log" | head -60 | sed 's/^/    /' || true
    else
      tail -20 "$log" | sed 's/^/    /'
    fi
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  die "${#failed[@]} target(s) failed: ${failed[*]}"
fi
say "all ${#targets[@]} target(s) ok"
