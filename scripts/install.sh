#!/bin/sh
# Installs imgtool on macOS or Linux from its GitHub release: picks the
# archive for this machine (uname -s, uname -m), downloads it and its
# .sha256, and installs the binary only if the checksum matches and the
# binary runs here. On any failure it says why in one line, exits 1 and
# leaves the install directory as it was.
#
#   curl -fsSL https://github.com/vpnlab/imgtool/releases/latest/download/install.sh | sh
#   sh install.sh [--dir DIR] [--version X.Y.Z]
#
# Options (or their environment variables):
#   --dir DIR        IMGTOOL_INSTALL_DIR  where imgtool goes (default ~/.local/bin)
#   --version X.Y.Z  IMGTOOL_VERSION      that release instead of the latest
# IMGTOOL_RELEASE_URL: the directory the archives are fetched from instead of
# the GitHub release, e.g. file:///srv/imgtool or http://127.0.0.1:8000 (a
# classroom copy, or a test); file:// needs curl.
#
# POSIX sh (dash, macOS's sh); needs curl or wget, tar with gzip, and
# sha256sum or shasum. Nothing the user gives is evaluated: values are only
# ever passed as quoted arguments.
set -eu

repo=https://github.com/vpnlab/imgtool
dir=${IMGTOOL_INSTALL_DIR:-}
version=${IMGTOOL_VERSION:-}

die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}
usage() {
  printf 'usage: install.sh [--dir DIR] [--version X.Y.Z]\n'
}
usage_error() {
  printf 'install.sh: %s (usage: install.sh [--dir DIR] [--version X.Y.Z])\n' "$1" >&2
  exit 2
}

while [ "$#" -gt 0 ]; do
  case $1 in
  --dir)
    [ "$#" -ge 2 ] || usage_error "--dir needs a directory"
    dir=$2
    shift 2
    ;;
  --dir=*)
    dir=${1#--dir=}
    shift
    ;;
  --version)
    [ "$#" -ge 2 ] || usage_error "--version needs a version"
    version=$2
    shift 2
    ;;
  --version=*)
    version=${1#--version=}
    shift
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) usage_error "unknown argument '$1'" ;;
  esac
done

if [ -z "$dir" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set: choose the directory with --dir DIR"
  dir=$HOME/.local/bin
fi
# Absolute, so that no argument of mkdir, cp, chmod or mv can start with "-".
case $dir in
/*) ;;
*) dir=$PWD/$dir ;;
esac
version=${version#v}
# The version becomes part of a URL: a release version and nothing else.
case $version in
'') ;;
[0-9]*)
  case $version in
  *[!0-9A-Za-z.+-]*) die "'$version' is not a release version such as 1.2.0" ;;
  esac
  ;;
*) die "'$version' is not a release version such as 1.2.0" ;;
esac

# --- which build -------------------------------------------------------------
os=$(uname -s)
arch=$(uname -m)
target=
case $os in
Darwin)
  # A shell under Rosetta 2 reports x86_64 on Apple silicon: take the native build.
  if [ "$arch" = x86_64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
    arch=arm64
  fi
  case $arch in
  arm64 | aarch64) target=aarch64-apple-darwin ;;
  x86_64) target=x86_64-apple-darwin ;;
  esac
  ;;
Linux)
  # Static (musl) builds: they run on any distribution.
  case $arch in
  x86_64 | amd64) target=x86_64-unknown-linux-musl ;;
  aarch64 | arm64) target=aarch64-unknown-linux-musl ;;
  esac
  ;;
esac
[ -n "$target" ] || die "no imgtool build for $os $arch (there are builds for macOS and Linux on arm64 and x86_64; elsewhere: cargo install --git $repo)"

if [ -n "${IMGTOOL_RELEASE_URL:-}" ]; then
  base=${IMGTOOL_RELEASE_URL%/}
elif [ -n "$version" ]; then
  base=$repo/releases/download/v$version
else
  base=$repo/releases/latest/download
fi
case $base in
https://* | http://* | file://*) ;;
*) die "IMGTOOL_RELEASE_URL must start with https://, http:// or file:// (it is '$base')" ;;
esac
archive=imgtool-$target.tar.gz

# --- download ------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/imgtool-install.XXXXXX")
partial=
cleanup() {
  rm -rf "$tmp"
  if [ -n "$partial" ]; then rm -f "$partial"; fi
}
trap cleanup EXIT
# An interrupted install still cleans up (dash runs the EXIT trap on exit).
trap 'exit 130' INT
trap 'exit 143' TERM

# fetch URL FILE: one line naming the URL and the downloader's reason on failure.
fetch() {
  if command -v curl >/dev/null 2>&1; then
    # From GitHub only over HTTPS, redirects to its download host included.
    case $1 in
    https://*) set -- "$1" "$2" --proto =https --tlsv1.2 ;;
    *) set -- "$1" "$2" ;;
    esac
    url=$1 file=$2
    shift 2
    curl --fail --silent --show-error --location --retry 2 "$@" --output "$file" "$url" 2>"$tmp/fetch.err" ||
      die "cannot download $url: $(tail -n 1 "$tmp/fetch.err")"
  elif command -v wget >/dev/null 2>&1; then
    case $1 in
    file://*) die "cannot download $1: wget does not read file:// URLs (install curl)" ;;
    esac
    wget -q -O "$2" "$1" 2>"$tmp/fetch.err" || die "cannot download $1: wget failed$(tail -n 1 "$tmp/fetch.err" | sed 's/^./: &/')"
  else
    die "neither curl nor wget is installed: cannot download $1"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1"
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1"
  else
    die "neither sha256sum nor shasum is installed: cannot check the download"
  fi
}

fetch "$base/$archive" "$tmp/$archive"
fetch "$base/$archive.sha256" "$tmp/$archive.sha256"

# --- checksum ------------------------------------------------------------------
# "HEX  NAME" (or "HEX *NAME"), as sha256sum writes it, for this archive.
expected='' named=''
read -r expected named <"$tmp/$archive.sha256" || true
expected=$(printf '%s' "$expected" | tr 'A-F' 'a-f')
case $expected in
*[!0-9a-f]* | '') die "$archive.sha256 from $base is not a SHA-256 sum file; nothing installed" ;;
esac
[ "${#expected}" -eq 64 ] || die "$archive.sha256 from $base is not a SHA-256 sum file; nothing installed"
[ "${named#\*}" = "$archive" ] || die "$archive.sha256 from $base is the sum of '$named', not of $archive; nothing installed"
actual=$(sha256_of "$tmp/$archive")
actual=${actual%% *}
[ "$actual" = "$expected" ] ||
  die "checksum mismatch for $archive from $base: expected $expected, got $actual; nothing installed"

# --- unpack and try it ----------------------------------------------------------
member=imgtool-$target/imgtool
tar -xzf "$tmp/$archive" -C "$tmp" "$member" 2>"$tmp/tar.err" ||
  die "$archive has no $member ($(tail -n 1 "$tmp/tar.err")); nothing installed"
[ -f "$tmp/$member" ] || die "$member in $archive is not a file; nothing installed"
chmod 755 "$tmp/$member"
# Run before installing: a build that cannot run here replaces nothing.
if ! said=$("$tmp/$member" --version 2>&1); then
  die "the downloaded imgtool does not run on this machine ($(printf '%s' "$said" | head -n 1)); nothing installed"
fi
said=$(printf '%s\n' "$said" | head -n 1)
if [ -n "$version" ] && [ "$said" != "imgtool $version" ]; then
  die "asked for imgtool $version but the download says '$said'; nothing installed"
fi

# --- install ---------------------------------------------------------------------
mkdir -p -- "$dir" || die "cannot create $dir; nothing installed"
# Copied next to the target, then renamed over it: a running imgtool keeps
# its file, and the name never points at half a binary.
partial=$dir/.imgtool.partial.$$
cp -- "$tmp/$member" "$partial" || die "cannot write into $dir; nothing installed"
chmod 755 "$partial" || die "cannot make $partial executable; nothing installed"
mv -f -- "$partial" "$dir/imgtool" || die "cannot write $dir/imgtool; nothing installed"
partial=

printf 'installed %s (%s) as %s\n' "$said" "$target" "$dir/imgtool"
case :${PATH:-}: in
*:"$dir":*) ;;
*)
  # $PATH is meant literally: the line is for the user's shell profile.
  # shellcheck disable=SC2016
  printf 'note: %s is not on PATH; add it to your shell profile, e.g. export PATH="%s:$PATH"\n' "$dir" "$dir"
  ;;
esac
