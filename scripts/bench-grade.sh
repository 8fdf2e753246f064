#!/usr/bin/env bash
# Grading a class (issue #10 §5): SUBMISSIONS lab folders graded with
# `imgtool grade --lab DIR --name NAME --format junit`, then `imgtool down`,
# with N at once, for each N given. Half the submissions are the reference
# solution (`imgtool lab solution`), half that solution with gateway-s's
# firewall missing IKE (a broken one, whose tunnels wait out up's settle
# time). Prints a Markdown table for docs/benchmarks.md: wall seconds for
# the class, seconds per submission, and how many got full marks (which
# must be exactly the good half; a wrong count fails the script).
#
#   scripts/bench-grade.sh [N...]              # default: 1 2 3 4
#   SUBMISSIONS=8 scripts/bench-grade.sh 1 2
set -euo pipefail
cd "$(dirname "$0")/.."
parallel=("$@")
[ ${#parallel[@]} -gt 0 ] || parallel=(1 2 3 4)
submissions=${SUBMISSIONS:-8}
cargo build --release --quiet
bin=$PWD/target/release/imgtool
export IMGTOOL_STATE_DIR=${IMGTOOL_STATE_DIR:-$(mktemp -d)}
work=$(mktemp -d)
trap 'for i in $(seq 1 "$submissions"); do "$bin" down --name "grade-$i" -q >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

"$bin" lab solution "$work/reference" site-to-site >/dev/null
for i in $(seq 1 "$submissions"); do
  cp -r "$work/reference" "$work/sub-$i"
  if [ $((i % 2)) = 0 ]; then
    sed -i '/udp dport { 500, 4500 } accept/d' "$work/sub-$i/gateway-s/firewall.nft"
  fi
done
good=$(((submissions + 1) / 2))

# Grades submission $1; its JUnit report goes to $work/sub-$1.xml.
grade_one() {
  "$bin" grade --lab "$work/sub-$1" --name "grade-$1" --format junit -q >"$work/sub-$1.xml" 2>/dev/null || true
  "$bin" down --name "grade-$1" -q >/dev/null
}
export -f grade_one
export bin work

echo "| at once | submissions | class, s | per submission, s | full marks |"
echo "|---|---|---|---|---|"
for n in "${parallel[@]}"; do
  rm -f "$work"/sub-*.xml
  start=$(date +%s.%N)
  seq 1 "$submissions" | xargs -P "$n" -I{} bash -c 'grade_one {}'
  end=$(date +%s.%N)
  # A report with no testsuite (grade failed outright) is not full marks.
  full=0
  for f in "$work"/sub-*.xml; do
    if grep -q '<testsuite' "$f" && ! grep -q '<failure' "$f"; then full=$((full + 1)); fi
  done
  [ "$full" = "$good" ] || { echo "bench-grade: $full full marks, expected $good (reports in $work)" >&2; trap - EXIT; exit 1; }
  awk -v n="$n" -v k="$submissions" -v s="$start" -v e="$end" -v f="$full" \
    'BEGIN { printf "| %d | %d | %.1f | %.1f | %d |\n", n, k, e - s, (e - s) / k, f }'
done
