# Homebrew formula for imgtool: a template. The release workflow
# (.github/workflows/release.yml, job `release`) fills it with
# scripts/homebrew-formula.sh and attaches the result, imgtool.rb, to the
# GitHub release; docs/release.md says how it gets into a tap. The words
# between at signs stand for the release's version, its download directory
# and the SHA-256 of each archive (the sums of the .sha256 files beside them).
class Imgtool < Formula
  desc "Builds, verifies and runs a VPN teaching testbed in containers"
  homepage "https://github.com/vpnlab/imgtool"
  version "@VERSION@"
  license "MIT"

  # Static musl builds on Linux, so they do not depend on Homebrew's glibc.
  on_macos do
    on_arm do
      url "@BASE_URL@/imgtool-aarch64-apple-darwin.tar.gz"
      sha256 "@SHA256_aarch64-apple-darwin@"
    end
    on_intel do
      url "@BASE_URL@/imgtool-x86_64-apple-darwin.tar.gz"
      sha256 "@SHA256_x86_64-apple-darwin@"
    end
  end
  on_linux do
    on_arm do
      url "@BASE_URL@/imgtool-aarch64-unknown-linux-musl.tar.gz"
      sha256 "@SHA256_aarch64-unknown-linux-musl@"
    end
    on_intel do
      url "@BASE_URL@/imgtool-x86_64-unknown-linux-musl.tar.gz"
      sha256 "@SHA256_x86_64-unknown-linux-musl@"
    end
  end

  def install
    bin.install "imgtool"
  end

  def caveats
    <<~EOS
      imgtool drives Docker: it needs the docker CLI and a daemon it can
      reach (Docker Desktop, or DOCKER_HOST). Then: imgtool up
    EOS
  end

  test do
    assert_equal "imgtool #{version}", shell_output("#{bin}/imgtool --version").strip
  end
end
