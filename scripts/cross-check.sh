#!/usr/bin/env bash
# Cross-compiles imgtool for the platforms it ships on besides Linux:
#   x86_64-pc-windows-gnu   full build and link of the imgtool binary
#                           (Debian's mingw-w64 as C compiler and linker)
#   aarch64-apple-darwin    cargo check of the lib and bin, with zig (PyPI's
#   x86_64-apple-darwin     ziglang, driven by cargo-zigbuild) as C compiler
#                           for the build scripts (aws-lc-sys); the macOS link
#                           needs Apple's SDK and is left to macOS runners.
# Installs what is missing first (rustup targets, gcc-mingw-w64-x86-64, a
# Python venv with cargo-zigbuild and ziglang); a second run only checks.
# Builds go to target/cross, so they never wait on the main build's lock.
#
# Usage: scripts/cross-check.sh [TARGET...]   (default: all three)
# Prints one line per target; exits non-zero if any target fails.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1
VENV=/var/cache/imgtool-setup/zig-venv
LOG=/var/log/imgtool-setup
TARGET_DIR=target/cross
ALL_TARGETS=(x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin)

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
need_zig=0
for t in "${targets[@]}"; do
  case $t in
  x86_64-pc-windows-gnu) need_windows=1 ;;
  *-apple-darwin) need_zig=1 ;;
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
    logged cross-apt-update.log apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  logged cross-apt-install.log env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

if [ "$need_windows" = 1 ] && ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
  apt_install gcc-mingw-w64-x86-64
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

# --- the builds ------------------------------------------------------------------
mkdir -p "$TARGET_DIR"
failed=()
for t in "${targets[@]}"; do
  log=$TARGET_DIR/$t.log
  start=$SECONDS
  case $t in
  x86_64-pc-windows-gnu)
    what="build (linked)"
    cmd=(cargo build --target "$t" --target-dir "$TARGET_DIR" --bin imgtool)
    ;;
  *)
    what="check"
    # cargo-zigbuild finds zig as `python3 -m ziglang`: the venv's python first.
    cmd=(env "PATH=$VENV/bin:$PATH" cargo-zigbuild check --target "$t" --target-dir "$TARGET_DIR" --lib --bins)
    ;;
  esac
  if "${cmd[@]}" >"$log" 2>&1; then
    # Summed from cargo's "`imgtool` (lib) generated N warnings" lines.
    warnings=$(awk '/^warning: .* generated [0-9]+ warnings?/ { for (i = 1; i < NF; i++) if ($i == "generated") n += $(i + 1) }
      END { print n + 0 }' "$log")
    say "$t: ok, $what, $((SECONDS - start)) s, $warnings warning(s) (log: $log)"
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
