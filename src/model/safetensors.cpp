#include "model/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

#include "util/atomic_file.h"
#include "util/error.h"

namespace muse {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
constexpr size_t kLengthPrefixBytes = 8;
constexpr DType kAllDTypes[] = {DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::U8};

std::optional<DType> parse_dtype(const std::string& name) {
  for (DType dtype : kAllDTypes) {
    if (name == dtype_name(dtype)) return dtype;
  }
  return std::nullopt;
}

// numel * dtype_size, or nullopt for a negative dimension or overflow (a hostile shape can wrap to 0).
std::optional<uint64_t> byte_count(const std::vector<int64_t>& shape, DType dtype) {
  uint64_t bytes = dtype_size(dtype);
  for (int64_t dim : shape) {
    if (dim < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes)) return std::nullopt;
  }
  return bytes;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string offsets_string(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

std::string tensor_label(const std::string& name) { return "tensor '" + name + "': "; }

struct HeaderEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
  if (!value.is_object()) throw file_error(path, "__metadata__ is not an object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) throw file_error(path, "__metadata__ value for '" + key + "' is not a string");
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

HeaderEntry parse_entry(const std::string& path, const std::string& name, const json& value,
                        uint64_t data_size) {
  const std::string label = tensor_label(name);
  auto fail = [&](const std::string& problem) { return file_error(path, label + problem); };
  if (!value.is_object()) throw fail("entry is not an object");
  HeaderEntry entry{name, DType::F32, {}, 0, 0};

  // Missing fields read as null, which every type check below rejects.
  const json dtype_field = value.value("dtype", json());
  if (!dtype_field.is_string()) throw fail("dtype is missing or not a string");
  const std::optional<DType> dtype = parse_dtype(dtype_field.get<std::string>());
  if (!dtype) throw fail("unknown dtype '" + dtype_field.get<std::string>() + "'");
  entry.dtype = *dtype;

  const json shape = value.value("shape", json());
  if (!shape.is_array()) throw fail("shape is not a list of non-negative integers");
  for (const json& dim : shape) {
    // Integers above INT64_MAX read back negative here, so they are rejected too.
    if (!dim.is_number_integer() || dim.get<int64_t>() < 0) {
      throw fail("shape is not a list of non-negative integers");
    }
    entry.shape.push_back(dim.get<int64_t>());
  }

  const json offsets = value.value("data_offsets", json());
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned() || offsets[0].get<uint64_t>() > offsets[1].get<uint64_t>()) {
    throw fail("data_offsets is not [begin, end] with 0 <= begin <= end");
  }
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();

  const std::optional<uint64_t> expected_bytes = byte_count(entry.shape, entry.dtype);
  if (!expected_bytes) throw fail("shape " + shape_string(entry.shape) + " is too large");
  if (entry.end - entry.begin != *expected_bytes) {
    throw fail("data_offsets " + offsets_string(entry.begin, entry.end) + " hold " +
               std::to_string(entry.end - entry.begin) + " bytes but shape " + shape_string(entry.shape) +
               " of " + dtype_name(entry.dtype) + " needs " + std::to_string(*expected_bytes));
  }
  if (entry.end > data_size) {
    throw fail("data_offsets " + offsets_string(entry.begin, entry.end) + " are out of range of the " +
               std::to_string(data_size) + "-byte data buffer");
  }
  return entry;
}

// Tensors must tile the data buffer exactly: no overlaps (aliasing), no gaps or trailing bytes (hidden data).
void check_contiguous(const std::string& path, const std::vector<HeaderEntry>& entries, uint64_t data_size) {
  uint64_t covered = 0;
  for (const HeaderEntry& entry : entries) {
    const std::string offsets = "data_offsets " + offsets_string(entry.begin, entry.end);
    if (entry.begin < covered) {
      throw file_error(path, tensor_label(entry.name) + offsets + " overlap the previous tensor");
    }
    if (entry.begin > covered) {
      throw file_error(path, tensor_label(entry.name) + offsets + " leave a gap of " +
                                 std::to_string(entry.begin - covered) + " bytes before it");
    }
    covered = entry.end;
  }
  if (covered != data_size) {
    throw file_error(path, "data buffer is " + std::to_string(data_size) + " bytes but tensors cover only " +
                               std::to_string(covered));
  }
}

void append_u64_le(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t read_u64_le(const std::string& bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  return value;
}

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
  }
  throw MuseError("invalid DType value " + std::to_string(static_cast<int>(dtype)), ErrorKind::Internal);
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I64: return 8;
    case DType::I32: return 4;
    case DType::U8: return 1;
  }
  throw MuseError("invalid DType value " + std::to_string(static_cast<int>(dtype)), ErrorKind::Internal);
}

int64_t TensorRecord::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

const TensorRecord* SafetensorsFile::find(const std::string& name) const {
  for (const TensorRecord& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps tensors in the caller's order; readers go by data_offsets, not key order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;  // first, as the reference writer does
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const TensorView& tensor : tensors) {
    const std::string label = tensor_label(tensor.name);
    if (tensor.name.empty()) throw file_error(path, "tensor name is empty");
    if (tensor.name == "__metadata__") throw file_error(path, "tensor name '__metadata__' is reserved");
    if (!names.insert(tensor.name).second) throw file_error(path, label + "duplicate tensor name");
    const std::optional<uint64_t> expected_bytes = byte_count(tensor.shape, tensor.dtype);
    if (!expected_bytes) {
      throw file_error(path, label + "shape " + shape_string(tensor.shape) +
                                 " has a negative dimension or is too large");
    }
    if (tensor.nbytes != *expected_bytes) {
      throw file_error(path, label + "view has " + std::to_string(tensor.nbytes) + " bytes but shape " +
                                 shape_string(tensor.shape) + " of " + dtype_name(tensor.dtype) + " needs " +
                                 std::to_string(*expected_bytes));
    }
    if (tensor.data == nullptr && tensor.nbytes > 0) throw file_error(path, label + "view has no data");
    nlohmann::ordered_json& entry = header[tensor.name];
    entry["dtype"] = dtype_name(tensor.dtype);
    entry["shape"] = tensor.shape;
    entry["data_offsets"] = nlohmann::ordered_json::array({offset, offset + tensor.nbytes});
    offset += tensor.nbytes;
  }

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const json::exception&) {
    throw file_error(path, "tensor names and metadata must be valid UTF-8");
  }
  // Spaces pad the header so the data buffer starts 8-byte aligned, letting readers mmap it in place.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  // One copy of the tensors: write_file_atomic takes the buffer by reference.
  std::string contents;
  contents.reserve(kLengthPrefixBytes + header_text.size() + offset);
  append_u64_le(contents, header_text.size());
  contents += header_text;
  for (const TensorView& tensor : tensors) {
    if (tensor.nbytes > 0) contents.append(static_cast<const char*>(tensor.data), tensor.nbytes);
  }
  write_file_atomic(path, contents);
}

SafetensorsFile read_safetensors(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < kLengthPrefixBytes) {
    throw file_error(path, "file is " + std::to_string(bytes.size()) +
                               " bytes, too short for the 8-byte safetensors header length");
  }
  const uint64_t header_size = read_u64_le(bytes);
  if (header_size > kMaxHeaderBytes) {
    throw file_error(path, "header length " + std::to_string(header_size) + " exceeds the 100 MB limit");
  }
  if (header_size > bytes.size() - kLengthPrefixBytes) {
    throw file_error(path, "header length " + std::to_string(header_size) + " exceeds the file size " +
                               std::to_string(bytes.size()));
  }
  const size_t data_start = kLengthPrefixBytes + header_size;
  const uint64_t data_size = bytes.size() - data_start;

  json header;
  try {
    const auto header_begin = bytes.begin() + kLengthPrefixBytes;
    header = json::parse(header_begin, header_begin + static_cast<ptrdiff_t>(header_size));
  } catch (const json::parse_error& error) {
    throw file_error(path, "header is not valid JSON (error at byte " + std::to_string(error.byte) + ")");
  }
  if (!header.is_object()) throw file_error(path, "header is not a JSON object");

  SafetensorsFile file;
  std::vector<HeaderEntry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      file.metadata = parse_metadata(path, value);
    } else {
      entries.push_back(parse_entry(path, name, value, data_size));
    }
  }
  // File order; zero-size tensors can share an offset, and then their (sorted) names decide.
  std::stable_sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  check_contiguous(path, entries, data_size);

  const auto data = bytes.begin() + static_cast<ptrdiff_t>(data_start);
  for (HeaderEntry& entry : entries) {
    TensorRecord& record = file.tensors.emplace_back();
    record.name = std::move(entry.name);
    record.dtype = entry.dtype;
    record.shape = std::move(entry.shape);
    record.data.assign(data + static_cast<ptrdiff_t>(entry.begin), data + static_cast<ptrdiff_t>(entry.end));
  }
  return file;
}

}  // namespace muse
