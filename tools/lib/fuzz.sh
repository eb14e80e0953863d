# shellcheck shell=bash
# Shared by tools/test and tools/fuzz (sourced, not run): the fuzz target list, the clang fuzz
# build, and how a crash is reported. Expects ROOT (the checkout) to be set.

FUZZ_TARGET_LIST="$ROOT/tools/lib/fuzz-targets"
# UBSan only prints by default; a fuzz run must stop on undefined behaviour and keep the input.
FUZZ_UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# Runs a command with address-space randomisation off where the kernel lets us (not in every
# container): hash tables seeded from addresses (abseil's) then lay out the same way each run,
# which a fixed-seed fuzz run needs to repeat itself.
fuzz_fixed_layout() {
  if setarch "$(uname -m)" -R true 2>/dev/null; then
    setarch "$(uname -m)" -R "$@"
  else
    "$@"
  fi
}

declare -a FUZZ_TARGETS=()
declare -A FUZZ_CORPUS=() FUZZ_RUNS=()

# Fills FUZZ_TARGETS (in list order), FUZZ_CORPUS[target] (absolute) and FUZZ_RUNS[target].
# Fails when a tests/fuzz/*_fuzz.cc is missing from the list, so a new target cannot be
# forgotten by CI.
fuzz_load_targets() {
  local target corpus runs
  FUZZ_TARGETS=()
  while read -r target corpus runs _; do
    [[ -z "$target" || "$target" == \#* ]] && continue
    FUZZ_TARGETS+=("$target")
    FUZZ_CORPUS[$target]="$ROOT/tests/fuzz/corpus/$corpus"
    # shellcheck disable=SC2034  # read by tools/test
    FUZZ_RUNS[$target]="$runs"
  done <"$FUZZ_TARGET_LIST"
  local source missing=0
  for source in "$ROOT"/tests/fuzz/*_fuzz.cc; do
    target="$(basename "$source" .cc)"
    if [[ -z "${FUZZ_CORPUS[$target]:-}" ]]; then
      echo "fuzz: $target (tests/fuzz/$target.cc) is not listed in tools/lib/fuzz-targets" >&2
      missing=1
    fi
  done
  return "$missing"
}

# fuzz_dict_args TARGET: sets FUZZ_DICT_ARGS to (-dict=tests/fuzz/TARGET.dict) when the target
# has a dictionary (its input is text with keywords random mutation would rarely spell).
# shellcheck disable=SC2034  # read by the caller
fuzz_dict_args() {
  FUZZ_DICT_ARGS=()
  if [[ -f "$ROOT/tests/fuzz/$1.dict" ]]; then
    FUZZ_DICT_ARGS=(-dict="$ROOT/tests/fuzz/$1.dict")
  fi
}

# fuzz_build BUILD_DIR TARGET...: configures the clang fuzz build if needed and builds the
# targets (SKIFF_JOBS is ninja's -j; FUZZ_NICE, if set, its niceness).
fuzz_build() {
  local dir="$1"
  shift
  if ! command -v clang++ >/dev/null 2>&1; then
    echo "fuzz: clang++ is not installed (tools/setup installs it)" >&2
    return 1
  fi
  if [[ ! -f "$dir/build.ninja" ]]; then
    CXX=clang++ CC=clang cmake -S "$ROOT" -B "$dir" -G Ninja -DSKIFF_FUZZ=ON \
      -DSKIFF_BUILD_TESTS=OFF >/dev/null || return 1
  fi
  nice -n "${FUZZ_NICE:-0}" ninja -C "$dir" ${SKIFF_JOBS:+-j "$SKIFF_JOBS"} "$@"
}

# fuzz_report_crashes TARGET BINARY ARTIFACT_DIR: prints every input libFuzzer kept (crash-,
# leak-, timeout-, oom-) with the command that replays it (paths relative to ROOT, where both
# tools run).
fuzz_report_crashes() {
  local target="$1" binary="$2" dir="$3" input found=0 corpus_file
  for input in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
    [[ -e "$input" ]] || continue
    found=1
    echo "  $target: input kept in ${input#"$ROOT"/}"
    # A checked-in seed that fails is named by its path too.
    for corpus_file in "${FUZZ_CORPUS[$target]}"/*; do
      if cmp -s "$input" "$corpus_file"; then
        echo "  (it is the checked-in seed ${corpus_file#"$ROOT"/})"
      fi
    done
    echo "  reproduce: UBSAN_OPTIONS=$FUZZ_UBSAN_OPTIONS ${binary#"$ROOT"/} ${input#"$ROOT"/}"
  done
  ((found)) || echo "  $target: the fuzzer failed without keeping an input (see its log above)"
}
