#!/bin/sh
# Fills the Homebrew formula template (packaging/homebrew/imgtool.rb) for one
# release and prints it: the version, the release's download directory and,
# for each macOS and Linux archive, the sum from its .sha256 file in DIST
# (as scripts/package-release.sh wrote it). Refuses, in one line, a missing
# or malformed sum and any placeholder left unfilled, so a formula that
# cannot install is never attached to a release.
#
# Usage: scripts/homebrew-formula.sh VERSION BASE_URL DIST >imgtool.rb
#   e.g. scripts/homebrew-formula.sh 1.2.0 https://github.com/vpnlab/imgtool/releases/download/v1.2.0 dist
set -eu

die() {
  printf 'homebrew-formula.sh: %s\n' "$*" >&2
  exit 1
}

[ "$#" -eq 3 ] || die "usage: scripts/homebrew-formula.sh VERSION BASE_URL DIST"
version=$1 base=$2 dist=$3
template=$(dirname "$0")/../packaging/homebrew/imgtool.rb

# Both end up inside Ruby strings and sed replacements: only characters
# that can mean nothing else there.
case $version in
[0-9]*) case $version in *[!0-9A-Za-z.+-]*) die "'$version' is not a release version" ;; esac ;;
*) die "'$version' is not a release version" ;;
esac
case $base in
https://*) case $base in *[!A-Za-z0-9:/._~%+-]*) die "'$base' has characters a formula URL cannot carry" ;; esac ;;
*) die "'$base' is not an https:// URL" ;;
esac

script="s|@VERSION@|$version|g; s|@BASE_URL@|${base%/}|g"
for target in aarch64-apple-darwin x86_64-apple-darwin aarch64-unknown-linux-musl x86_64-unknown-linux-musl; do
  archive=imgtool-$target.tar.gz
  [ -f "$dist/$archive.sha256" ] || die "no $archive.sha256 in $dist"
  sum='' named=''
  read -r sum named <"$dist/$archive.sha256" || true
  case $sum in
  *[!0-9a-f]* | '') die "$dist/$archive.sha256 holds no SHA-256 sum" ;;
  esac
  [ "${#sum}" -eq 64 ] || die "$dist/$archive.sha256 holds no SHA-256 sum"
  [ "${named#\*}" = "$archive" ] || die "$dist/$archive.sha256 is the sum of '$named', not of $archive"
  script="$script; s|@SHA256_$target@|$sum|g"
done

formula=$(sed "$script" "$template")
left=$(printf '%s\n' "$formula" | grep -o '@[A-Za-z0-9_-]*@' | sort -u | tr '\n' ' ' || true)
[ -z "$left" ] || die "placeholders left unfilled in $template: $left"
printf '%s\n' "$formula"
