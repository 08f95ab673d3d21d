#!/usr/bin/env bash
# The CUDA check: builds Muse against a machine's own libtorch 2.x (pip's torch with CUDA) and runs the model,
# training and engine tests there, including the GPU-vs-CPU parity test that CI (no GPU) skips.
#   scripts/gpu_check.sh --vendor   on the Debian box: copy the header-only dependencies into .vendor/
#   scripts/gpu_check.sh            on the GPU box (nothing installable there): configure, build, test
# Such a box lacks SentencePiece and OpenBLAS: tokenizer-dependent tests are filtered out, not faked.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --vendor ]; then
  rm -rf .vendor && mkdir -p .vendor/include
  cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/stb .vendor/include/
  cp -r /usr/src/googletest .vendor/googletest
  echo "vendored into .vendor/ ($(du -sh .vendor | cut -f1))"
  exit 0
fi

log() { echo "== $*"; }
log "machine"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
nproc; command -v cmake ninja make g++ c++ nvcc || true
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') || exit 1
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
GENERATOR=$(command -v ninja >/dev/null && echo Ninja || echo "Unix Makefiles")
BUILD=${BUILD_DIR:-build-gpu}
log "configure ($GENERATOR)"
cmake -S . -B "$BUILD" -G "$GENERATOR" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DMUSE_VENDOR_DIR="$PWD/.vendor" \
  -DMUSE_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Release 2>&1 | tail -25 || exit 1
log "build"
cmake --build "$BUILD" -j "$(nproc)" --target muse_core_tests muse -- $([ "$GENERATOR" = Ninja ] && echo -k 0 || echo -k) \
  2>&1 | grep -E "error|Error|FAILED|warning: .*deprecated" | head -60
[ -x "$BUILD/bin/muse_core_tests" ] || { log "build failed"; exit 1; }
log "tests"
"$BUILD/bin/muse_core_tests" --gtest_brief=1 \
  --gtest_filter='Cuda*:Model*:ModelImages*:CachedDecoding*:Rotary*:Weights*:CpuDecode*:Engine*:KVPool*:Sampler*:AdamW*:Loss*:LrSchedule*' \
  2>&1 | tail -40
