#!/bin/sh
# Packs one release binary the way .github/workflows/release.yml publishes it
# and scripts/install.sh and the Homebrew formula expect to find it:
#   OUTDIR/imgtool-TARGET.tar.gz (.zip for Windows), holding the directory
#     imgtool-TARGET/ with imgtool (imgtool.exe), README.md and LICENSE;
#   OUTDIR/imgtool-TARGET.tar.gz.sha256: "HEX  imgtool-TARGET.tar.gz", as
#     sha256sum and `shasum -a 256` write it and `sha256sum -c` reads it.
# The names carry no version, so .../releases/latest/download/NAME always
# names the newest release's file (install.sh relies on it).
# POSIX sh: it runs on the macOS runners (BSD tar, shasum) as on Linux.
#
# Usage: scripts/package-release.sh TARGET BINARY OUTDIR
set -eu

die() {
  printf 'package-release.sh: %s\n' "$*" >&2
  exit 1
}

[ "$#" -eq 3 ] || die "usage: scripts/package-release.sh TARGET BINARY OUTDIR"
target=$1 binary=$2 out=$3
case $target in
aarch64-apple-darwin | x86_64-apple-darwin | x86_64-unknown-linux-musl | aarch64-unknown-linux-musl) exe=imgtool ;;
x86_64-pc-windows-gnu) exe=imgtool.exe ;;
*) die "unknown target '$target'" ;;
esac
[ -f "$binary" ] || die "no binary at $binary"
root=$(cd "$(dirname "$0")/.." && pwd)
name=imgtool-$target

mkdir -p -- "$out"
out=$(cd -- "$out" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/imgtool-package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp -- "$binary" "$stage/$name/$exe"
chmod 755 "$stage/$name/$exe"
cp -- "$root/README.md" "$root/LICENSE" "$stage/$name/"

case $exe in
*.exe)
  archive=$name.zip
  rm -f -- "$out/$archive"
  # Python's zipfile: the same on every runner, where `zip` may be missing.
  (cd "$stage" && python3 -m zipfile -c "$out/$archive" "$name")
  ;;
*)
  archive=$name.tar.gz
  tar -czf "$out/$archive" -C "$stage" "$name"
  ;;
esac

# The sum is of the archive as uploaded, named as in the release.
if command -v sha256sum >/dev/null 2>&1; then
  (cd "$out" && sha256sum "$archive") >"$out/$archive.sha256"
else
  (cd "$out" && shasum -a 256 "$archive") >"$out/$archive.sha256"
fi
printf '%s\n' "$out/$archive"
