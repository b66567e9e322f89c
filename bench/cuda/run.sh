#!/usr/bin/env bash
# Builds the CUDA backend, its GPU op test and the benchmark with plain nvcc and g++ (the GPU machine has
# the CUDA toolkit but not the Debian packages the full CMake build needs), then runs, in order:
#   1. tests/cuda/test_cuda_ops        (every CUDA op against the CPU scalar references)
#   2. compute-sanitizer memcheck and racecheck on the quick test
#   3. bench/cuda/bench_cuda           (ceilings and kernels; prints the table)
# Usage: bench/cuda/run.sh FMT_INCLUDE_DIR OUT_DIR   (FP4_CUDA_SKIP_BENCH=1 stops after step 2)
#   FP4_CUDA_TEST_ARGS: flags of step 1 (--moe: the MoE groups only), FP4_CUDA_SANITIZER_ARGS: extra test
#   flags for step 2 (--moe), FP4_CUDA_SANITIZER_TIMEOUT: seconds per tool
#   (240), FP4_CUDA_BENCH_ARGS: benchmark flags (--moe: the ceilings and the MoE section only).
#   FMT_INCLUDE_DIR holds fmt/ (used header-only); OUT_DIR receives the logs and the binaries.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmt_include=$1
out=$2
obj=$(mktemp -d)
cuda_home=$(dirname "$(dirname "$(command -v nvcc)")")
mkdir -p "$out"

nvcc_flags=(-std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -lineinfo -I"$root/src" -Xcompiler=-Wall,-Wextra)
cxx_flags=(-std=c++20 -O2 -Wall -Wextra -I"$root/src" -I"$fmt_include" -I"$cuda_home/include" -DFMT_HEADER_ONLY)

pids=()
for f in "$root"/src/fp4/backends/cuda/*.cu "$root"/bench/cuda/*.cu; do
  nvcc "${nvcc_flags[@]}" -Xptxas -v -c "$f" -o "$obj/$(basename "$f").o" > "$obj/$(basename "$f").log" 2>&1 &
  pids+=($!)
done
cxx_srcs=("$root"/src/fp4/backends/cuda/*.cc "$root/src/fp4/base/formats.cc" "$root/src/fp4/ops/attention.cc"
          "$root"/src/fp4/backends/cpu/{matmul,rmsnorm,rope,activation,attention,softmax,topk}_reference.cc
          "$root"/tests/cuda/*.cc "$root/bench/cuda/bench_cuda.cc")
for f in "${cxx_srcs[@]}"; do
  g++ "${cxx_flags[@]}" -c "$f" -o "$obj/$(basename "$f").o" > "$obj/$(basename "$f").log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
cat "$obj"/*.log > "$out/build.log"
if [ $status -ne 0 ]; then
  echo "build failed:"; grep -B2 -A8 -i "error" "$out/build.log" | head -80; exit 1
fi
grep -E "Compiling entry|registers|spill" "$out/build.log" | paste - - - | \
  sed -E 's/ptxas info *: //g; s/Compiling entry function//' | awk '{$1=$1};1' > "$out/ptxas.txt"
lib_objs=("$obj"/attention.cc.o)  # ops/attention.cc: the shape checks every attention backend shares
for f in "$root"/src/fp4/backends/cuda/*.cu "$root"/src/fp4/backends/cuda/*.cc; do
  lib_objs+=("$obj/$(basename "$f").o")
done
test_objs=()
for f in "$root"/tests/cuda/*.cc; do test_objs+=("$obj/$(basename "$f").o"); done
link=(-L"$cuda_home/lib64" -lcublas -lcudart)
g++ -o "$out/test_cuda_ops" "${lib_objs[@]}" "$obj"/formats.cc.o "$obj"/*_reference.cc.o "${test_objs[@]}" \
  "${link[@]}" || exit 1
g++ -o "$out/bench_cuda" "${lib_objs[@]}" "$obj"/formats.cc.o "$obj"/bench_cuda.cc.o "$obj"/copy_kernel.cu.o \
  "${link[@]}" || exit 1
echo "== build ok"
# Machine code of the two hottest kernels, for reading instruction counts offline.
if command -v cuobjdump > /dev/null; then
  cuobjdump -sass "$obj/nvfp4_gemv.cu.o" > "$out/nvfp4_gemv.sass" 2>&1
  cuobjdump -sass "$obj/nvfp4_mma.cu.o" > "$out/nvfp4_mma.sass" 2>&1
fi

echo "== op test"
# shellcheck disable=SC2086  # FP4_CUDA_TEST_ARGS: test flags, e.g. --moe
"$out/test_cuda_ops" ${FP4_CUDA_TEST_ARGS:-} 2>&1 | tee "$out/test.log"
test_status=${PIPESTATUS[0]}

echo "== compute-sanitizer (quick test ${FP4_CUDA_SANITIZER_ARGS:-})"
sanitizer_timeout=${FP4_CUDA_SANITIZER_TIMEOUT:-240}
# shellcheck disable=SC2086  # FP4_CUDA_SANITIZER_ARGS: extra test flags, e.g. --moe
timeout "$sanitizer_timeout" compute-sanitizer --tool memcheck --error-exitcode 9 "$out/test_cuda_ops" --quick \
  ${FP4_CUDA_SANITIZER_ARGS:-} > "$out/memcheck.log" 2>&1
echo "memcheck exit $?"; tail -3 "$out/memcheck.log"
# shellcheck disable=SC2086
timeout "$sanitizer_timeout" compute-sanitizer --tool racecheck --error-exitcode 9 "$out/test_cuda_ops" --quick \
  ${FP4_CUDA_SANITIZER_ARGS:-} > "$out/racecheck.log" 2>&1
echo "racecheck exit $?"; tail -3 "$out/racecheck.log"

if [ "${FP4_CUDA_SKIP_BENCH:-0}" = 1 ]; then  # op tests only (FP4_CUDA_SKIP_BENCH=1)
  echo "test exit $test_status"; exit "$test_status"
fi
echo "== benchmark"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$out/nvidia-smi.txt" 2>&1
cat "$out/nvidia-smi.txt"
# shellcheck disable=SC2086  # FP4_CUDA_BENCH_ARGS: e.g. --moe (the ceilings and the MoE section only)
"$out/bench_cuda" ${FP4_CUDA_BENCH_ARGS:-} 2>&1 | tee "$out/bench.log"
echo "test exit $test_status"
exit "$test_status"
