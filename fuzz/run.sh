#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 60) on its corpus, on the stable
# toolchain: no sanitizer (ASan needs nightly), libFuzzer's own checks only. What a run finds
# is kept in fuzz/artifacts/<target>/ (a crash input: reproduce it with
# `cargo fuzz run --sanitizer none TARGET fuzz/artifacts/TARGET/crash-…`). New inputs go to a
# scratch copy of the corpus, not the committed one (minimise with `cargo fuzz cmin` and commit
# by hand when worth it). Exits non-zero on the first target that fails. See docs/hardening.md.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
targets=(url_resolve orm_filter_params celery_message channels_message)
# Without a sanitizer, cargo-fuzz passes rustc only stable flags (libFuzzer's coverage passes
# and --cfg fuzzing): no nightly needed. FUZZ_BUILD=--dev (what CI uses) builds without
# optimisation: about half the build time, fewer runs a second. Many codegen units: a faster
# build, a slightly slower run.
read -r -a profile <<< "${FUZZ_BUILD:---release}"
build=(--sanitizer none --codegen-units 16 "${profile[@]}")
cargo fuzz build "${build[@]}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "artifacts/$target"
  cp -r "corpus/$target/." "$scratch/$target/" 2>/dev/null || true
  echo "== $target: ${seconds}s"
  log="$scratch/$target.log"
  # -rss_limit_mb: an input that makes a decoder allocate gigabytes is a finding too.
  if ! cargo fuzz run "${build[@]}" "$target" "$scratch/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -dict="dicts/$target.dict" \
    >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $target failed: the input is in fuzz/artifacts/$target/"
    exit 1
  fi
  grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)' "$log" || tail -n 3 "$log"
done
echo "fuzz targets run ${seconds}s each, no crash:"
echo "fuzz: ${#targets[@]} passed, 0 failed"
