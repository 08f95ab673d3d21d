// safetensors: u64 little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} plus an
// optional "__metadata__" string map, then raw little-endian C-order tensor bytes, offsets contiguous from 0.
// Our own reader/writer (no torch dependency) so any safetensors tool can read Muse's weights, and no pickle.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace muse {

enum class DType { F32, F16, BF16, I64, I32, U8 };

const char* dtype_name(DType dtype);      // "F32", "F16", ...
size_t dtype_size(DType dtype);           // bytes per element

// A tensor to write: points at caller-owned contiguous memory.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;  // must equal numel * dtype_size
};

// A tensor read from a file: owns its bytes.
struct TensorRecord {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
  int64_t numel() const;
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::vector<TensorRecord> tensors;  // in file order
  const TensorRecord* find(const std::string& name) const;  // nullptr if absent
};

// Writes atomically (temporary file in the same directory, fsync, rename): a crash never leaves a torn file.
// Throws MuseError on invalid views (size mismatch, duplicate names) or I/O failure, naming the path.
void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Reads and validates everything (header length vs file size, JSON shape, known dtypes, offsets in range,
// contiguous and non-overlapping, shape product vs byte count). Throws MuseError "PATH: problem".
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace muse
