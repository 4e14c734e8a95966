#!/usr/bin/env bash
# cohort as others use it: installs a built tree into a fresh prefix, checks what landed there,
# then configures, builds and runs tests/install/consumer (a project of its own, copied out of the
# repository) against that prefix with find_package(cohort CONFIG REQUIRED), using the same
# generator, make program, compiler and build type as the build.
#   tests/install/check-consumer.sh CMAKE BUILD_DIR CONFIG GENERATOR MAKE_PROGRAM CXX_COMPILER
#                                   SOURCE_DIR VERSION
# Exit 0 pass, 1 fail, 77 skipped (only when cmake, the make program or the compiler is missing).
# On failure the work directory (prefix, consumer build, logs) is kept and named.
set -euo pipefail
if [ "$#" -ne 8 ]; then
  echo "usage: $0 CMAKE BUILD_DIR CONFIG GENERATOR MAKE_PROGRAM CXX_COMPILER SOURCE_DIR VERSION" >&2
  exit 1
fi
cmake=$1 build=$2 config=$3 generator=$4 make_program=$5 cxx=$6 source=$7 version=$8

for tool in "$cmake" "$make_program" "$cxx"; do
  if [ -n "$tool" ] && ! command -v "$tool" >/dev/null; then
    echo "$tool not found: skipped"
    exit 77
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-install.XXXXXX")
prefix=$work/prefix
status=1
finish() {
  if [ "$status" -eq 0 ]; then rm -rf "$work"; else echo "FAIL (work directory kept: $work)"; fi
}
trap finish EXIT
fail() { echo "FAIL: $*"; exit 1; }
run() {  # run LOG COMMAND...: the command's output goes to LOG, shown when it fails
  local log=$1
  shift
  local code=0
  "$@" >"$log" 2>&1 || code=$?
  if [ "$code" -ne 0 ]; then
    cat "$log"
    fail "$* (exit status $code)"
  fi
}

echo "== cmake --install $build --prefix $prefix"
run "$work/install.log" "$cmake" --install "$build" --prefix "$prefix" --config "$config"

# What a user gets: the package, the libraries, the public headers in the source layout, the CLI
# (found rather than assumed at lib/, include/ and bin/: GNUInstallDirs may say lib64 or lib/<arch>).
config_file=$(find "$prefix" -name cohortConfig.cmake | head -n 1)
[ -n "$config_file" ] || fail "no cohortConfig.cmake under $prefix"
package=$(dirname "$config_file")
for file in cohortConfigVersion.cmake cohortTargets.cmake; do
  [ -f "$package/$file" ] || fail "not installed next to cohortConfig.cmake: $file"
done
wrapper=$(find "$prefix" -path '*/parallel/ParallelWrapper.h' | head -n 1)
[ -n "$wrapper" ] || fail "parallel/ParallelWrapper.h not installed"
include=$(dirname "$(dirname "$wrapper")")
for header in memory/Workspace.h kernels/Backend.h src/nn/Model.h src/data/Synthetic.h src/train/Trainer.h; do
  [ -f "$include/$header" ] || fail "not installed: ${include#"$prefix"/}/$header"
done
for library in memory kernels data core parallel; do
  [ -n "$(find "$prefix" -name "libcohort_$library.a")" ] || fail "not installed: libcohort_$library.a"
done
cli=$(find "$prefix" -type f -name cohort -perm -u+x | head -n 1)
[ -n "$cli" ] || fail "the cohort CLI was not installed"
unexpected=$(cd "$include" && find . -name '*.cuh' -o -path './launch/*' -o -path './tests/*' -o -name '*.cpp' -o -name '*.cu')
[ -z "$unexpected" ] || fail "installed but not public: $unexpected"
# The installed headers include only installed headers (nothing left out: a .cuh, an internal one).
missing=$(cd "$include" && grep -rhoE '^#include "[^"]+"' . | sed 's/#include "\(.*\)"/\1/' | sort -u |
          while read -r header; do [ -f "$header" ] || echo "$header"; done)
[ -z "$missing" ] || fail "installed headers include headers that were not installed: $missing"
# The installed package must not point back into the source or build tree.
for tree in "$source" "$build"; do
  case "$work/" in "$tree"/*) continue ;; esac  # (a TMPDIR inside the tree would match itself)
  if grep -rlF "$tree/" "$package" >/dev/null; then
    fail "the installed package names $tree: $(grep -rlF "$tree/" "$package" | tr '\n' ' ')"
  fi
done
"$cli" --version >"$work/version.log" 2>&1 || { cat "$work/version.log"; fail "installed cohort --version"; }
# The CUDA modules, when built, are installed beside the libraries and the installed CLI loads them
# from there (not from the build tree).
if [ -n "$(find "$build/lib" -name 'libcohort_cuda_*.so' 2>/dev/null)" ]; then
  module=$(find "$prefix" -name libcohort_cuda_kernels.so | head -n 1)
  [ -n "$module" ] || fail "the CUDA modules were not installed"
  "$cli" info --load-cuda >"$work/info.log" 2>&1 || { cat "$work/info.log"; fail "installed cohort info --load-cuda"; }
  grep -q "libcohort_cuda_kernels.so: $module" "$work/info.log" || { cat "$work/info.log"; fail "the installed CLI did not load the installed kernels module"; }
fi
grep -qF "$version" "$work/version.log" || fail "installed cohort --version does not say $version: $(cat "$work/version.log")"
echo "installed: $(head -n 1 "$work/version.log")"

# The consumer, out of the tree: only CMAKE_PREFIX_PATH tells it where cohort is.
cp -r "$source/tests/install/consumer" "$work/consumer"
echo "== configure the consumer against $prefix"
run "$work/configure.log" "$cmake" -S "$work/consumer" -B "$work/consumer-build" -G "$generator" \
  ${make_program:+"-DCMAKE_MAKE_PROGRAM=$make_program"} "-DCMAKE_CXX_COMPILER=$cxx" "-DCMAKE_BUILD_TYPE=$config" \
  "-DCMAKE_PREFIX_PATH=$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DCONSUMER_ALL_HEADERS=ON
found=$(sed -n 's/^cohort_DIR:PATH=//p' "$work/consumer-build/CMakeCache.txt")
[ "$found" = "$package" ] || fail "find_package(cohort) found '$found', not $package"
echo "== build the consumer (and every installed header)"
run "$work/build.log" "$cmake" --build "$work/consumer-build" --config "$config"
for tree in "$source" "$build"; do
  case "$work/" in "$tree"/*) continue ;; esac
  if grep -rlF "$tree/" "$work/consumer-build" --include=compile_commands.json --include='*.ninja' \
       --include=flags.make --include=link.txt >/dev/null; then
    fail "the consumer's compile or link commands name $tree (not the installed tree)"
  fi
done

echo "== run the consumer"
consumer=$(find "$work/consumer-build" -type f -name cohort_consumer -perm -u+x | head -n 1)
[ -n "$consumer" ] || fail "the consumer build made no cohort_consumer"
"$consumer" || fail "the consumer's checks failed"
status=0
echo "PASS"
