#include "model/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "util/atomic_file.h"
#include "../util/error_kind_of.h"
#include "util/error.h"
#include "util/rng.h"
#include "util/test_dirs.h"

namespace muse {
namespace {

// Each test gets a directory of its own (parallel ctest runs never share files), removed afterwards.
class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = ::testing::TempDir() + "muse_safetensors_" + test_name + "_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
};

// Written with plain streams so crafted files do not depend on the code under test.
void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string u64_le(uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  return bytes;
}

uint64_t header_length(const std::string& file_bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(file_bytes[static_cast<size_t>(i)]);
  return value;
}

// A file with `header` verbatim (no padding) followed by `data_size` zero bytes.
std::string craft(const std::string& header, size_t data_size) {
  return u64_le(header.size()) + header + std::string(data_size, '\0');
}

template <typename T>
TensorView view(const std::string& name, DType dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
  return TensorView{name, dtype, std::move(shape), values.data(), values.size() * sizeof(T)};
}

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// Expects a MuseError "PATH: ..." whose message contains every fragment.
void expect_error(const std::function<void()>& action, const std::string& path,
                  const std::vector<std::string>& fragments) {
  try {
    action();
    ADD_FAILURE() << "no error; expected one mentioning '" << fragments.front() << "'";
  } catch (const MuseError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << message;
    }
  }
}

void expect_read_error(const std::string& path, const std::vector<std::string>& fragments) {
  expect_error([&] { read_safetensors(path); }, path, fragments);
}

// Little-endian test data: the format is little-endian and so is every machine we run on.
const std::vector<float> kF32 = {1.0f, -2.5f, 3.25f, 0.0f, -0.0f, 1e-30f};
const std::vector<uint16_t> kF16 = {0x3C00, 0xC000, 0x3800, 0x7C00};  // 1, -2, 0.5, +inf
const std::vector<uint16_t> kBF16 = {0x3FC0, 0xC040};                 // 1.5, -3
const std::vector<int64_t> kI64 = {0, -1, INT64_MAX, INT64_MIN};
const std::vector<int32_t> kI32 = {7, -7};
const std::vector<uint8_t> kU8 = {0, 1, 127, 128, 255};
const std::vector<float> kScalar = {42.0f};
const std::vector<float> kEmpty = {};
const std::vector<uint8_t> kNoBytes = {};

TEST_F(Safetensors, RoundTripsEveryDtypeScalarsEmptyTensorsAndMetadata) {
  const std::string path = dir_ + "/model.safetensors";
  const std::vector<TensorView> views = {
      view("layers.0.weight", DType::F32, {2, 3}, kF32), view("half", DType::F16, {4}, kF16),
      view("brain", DType::BF16, {1, 2}, kBF16),         view("steps", DType::I64, {2, 2}, kI64),
      view("pair", DType::I32, {2}, kI32),               view("mask", DType::U8, {5}, kU8),
      view("scalar", DType::F32, {}, kScalar),           view("empty", DType::F32, {0, 3}, kEmpty),
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "héllo \"quoted\"\n"}};
  write_safetensors(path, views, metadata);

  const SafetensorsFile file = read_safetensors(path);
  EXPECT_EQ(file.metadata, metadata);
  ASSERT_EQ(file.tensors.size(), views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const TensorRecord& record = file.tensors[i];  // file order is the order given to the writer
    EXPECT_EQ(record.name, views[i].name);
    EXPECT_EQ(record.dtype, views[i].dtype) << record.name;
    EXPECT_EQ(record.shape, views[i].shape) << record.name;
    const auto* begin = static_cast<const uint8_t*>(views[i].data);
    EXPECT_EQ(record.data, std::vector<uint8_t>(begin, begin + views[i].nbytes)) << record.name;
  }
  EXPECT_EQ(file.find("scalar")->numel(), 1);
  EXPECT_EQ(file.find("empty")->numel(), 0);
  EXPECT_EQ(file.find("steps")->data, bytes_of(kI64));
  EXPECT_EQ(file.find("missing"), nullptr);
}

TEST_F(Safetensors, RoundTripsAnEmptyFile) {
  const std::string path = dir_ + "/empty.safetensors";
  write_safetensors(path, {});
  const SafetensorsFile file = read_safetensors(path);
  EXPECT_TRUE(file.tensors.empty());
  EXPECT_TRUE(file.metadata.empty());
  EXPECT_EQ(read_file(path), u64_le(8) + "{}      ");
}

TEST_F(Safetensors, RoundTripsAMegabyteTensor) {
  const std::string path = dir_ + "/big.safetensors";
  std::vector<float> values(1 << 18);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.25f;
  write_safetensors(path, {view("big", DType::F32, {512, 512}, values)});
  EXPECT_EQ(read_safetensors(path).find("big")->data, bytes_of(values));
}

// Hand-computed from the spec: u64 LE header length, compact JSON padded with spaces to 8 bytes, raw data.
TEST_F(Safetensors, MatchesTheSpecByteForByte) {
  const std::string path = dir_ + "/exact.safetensors";
  const std::vector<float> values = {1.0f, 2.0f};
  write_safetensors(path, {view("a", DType::F32, {2}, values)});
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";  // 54 bytes
  ASSERT_EQ(header.size(), 54u);
  const std::string expected = std::string("\x38\0\0\0\0\0\0\0", 8) + header + "  " +
                               std::string("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f, 2.0f
  EXPECT_EQ(read_file(path), expected);
}

TEST_F(Safetensors, WritesMetadataFirstLikeTheReferenceWriter) {
  const std::string path = dir_ + "/meta.safetensors";
  const std::vector<uint8_t> values = {9};
  write_safetensors(path, {view("b", DType::U8, {1}, values)}, {{"k", "v"}});
  const std::string header = R"({"__metadata__":{"k":"v"},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  ASSERT_EQ(header.size(), 78u);  // padded to 80 = 0x50
  EXPECT_EQ(read_file(path), std::string("\x50\0\0\0\0\0\0\0", 8) + header + "  " + "\x09");
}

TEST_F(Safetensors, AlignsTheDataBufferToEightBytes) {
  const std::vector<uint8_t> values = {1, 2, 3};
  for (size_t name_length = 1; name_length <= 16; ++name_length) {
    const std::string path = dir_ + "/t" + std::to_string(name_length);
    write_safetensors(path, {view(std::string(name_length, 'n'), DType::U8, {3}, values)});
    const std::string bytes = read_file(path);
    const uint64_t header_size = header_length(bytes);
    EXPECT_EQ(header_size % 8, 0u) << name_length;
    EXPECT_EQ(bytes.size(), 8 + header_size + values.size());
  }
}

TEST_F(Safetensors, ReadsTensorsInDataOrderWhateverTheKeyOrder) {
  const std::string path = dir_ + "/order.safetensors";
  write_raw(path, craft(R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                        R"("z":{"dtype":"U8","shape":[0],"data_offsets":[2,2]},)"
                        R"("a":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}})",
                        3));
  const SafetensorsFile file = read_safetensors(path);
  ASSERT_EQ(file.tensors.size(), 3u);
  EXPECT_EQ(file.tensors[0].name, "b");
  EXPECT_EQ(file.tensors[1].name, "z");
  EXPECT_EQ(file.tensors[2].name, "a");
}

TEST_F(Safetensors, WriterRejectsInvalidViews) {
  const std::string path = dir_ + "/bad.safetensors";
  const std::vector<float> four = {1, 2, 3, 4};
  struct Case {
    std::vector<TensorView> views;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {{view("w", DType::F32, {3}, four)}, {"tensor 'w'", "16 bytes", "needs 12"}},
      {{view("w", DType::F16, {4}, four)}, {"tensor 'w'", "16 bytes", "needs 8"}},
      {{view("w", DType::F32, {4}, four), view("w", DType::F32, {2, 2}, four)}, {"tensor 'w'", "duplicate"}},
      {{view("", DType::F32, {4}, four)}, {"name is empty"}},
      {{view("__metadata__", DType::F32, {4}, four)}, {"'__metadata__' is reserved"}},
      {{view("w", DType::F32, {-1, -4}, four)}, {"tensor 'w'", "shape [-1, -4]", "negative"}},
      {{view("w", DType::F32, {1LL << 62, 4}, four)}, {"tensor 'w'", "too large"}},
      {{TensorView{"w", DType::F32, {4}, nullptr, 16}}, {"tensor 'w'", "no data"}},
      {{view("w\xff", DType::F32, {4}, four)}, {"valid UTF-8"}},
  };
  for (const Case& c : cases) {
    expect_error([&] { write_safetensors(path, c.views); }, path, c.fragments);
    EXPECT_FALSE(std::filesystem::exists(path));
  }
  expect_error([&] { write_safetensors(path, {}, {{"k", "\xc3"}}); }, path, {"valid UTF-8"});
}

TEST_F(Safetensors, WriterNamesThePathOnIoFailure) {
  const std::string path = dir_ + "/no/such/dir/model.safetensors";
  expect_error([&] { write_safetensors(path, {}); }, path, {"cannot write (No such file or directory)"});
}

TEST_F(Safetensors, ReaderRejectsMissingAndShortFiles) {
  expect_read_error(dir_ + "/missing", {"cannot open file (No such file or directory)"});
  EXPECT_EQ(error_kind_of([&] { read_safetensors(dir_ + "/missing"); }), "not_found");
  for (size_t size = 0; size < 8; ++size) {
    write_raw(dir_ + "/short", std::string(size, '\0'));
    expect_read_error(dir_ + "/short", {"file is " + std::to_string(size) + " bytes, too short"});
  }
  EXPECT_EQ(error_kind_of([&] { read_safetensors(dir_ + "/short"); }), "invalid_request");
}

TEST_F(Safetensors, ReaderRejectsBadHeaderLengths) {
  const std::string path = dir_ + "/length.safetensors";
  write_raw(path, u64_le(100) + "{}");
  expect_read_error(path, {"header length 100 exceeds the file size 10"});
  write_raw(path, u64_le(200'000'000) + "{}");
  expect_read_error(path, {"header length 200000000 exceeds the 100 MB limit"});
  write_raw(path, u64_le(UINT64_MAX) + "{}");
  expect_read_error(path, {"exceeds the 100 MB limit"});
}

TEST_F(Safetensors, ReaderRejectsEachMalformedHeader) {
  const std::string path = dir_ + "/bad.safetensors";
  struct Case {
    std::string header;
    size_t data_size;
    std::vector<std::string> fragments;
  };
  // Wraps one tensor entry: dtype, shape and offsets as raw JSON text.
  auto entry = [](const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return R"({"w":{"dtype":)" + dtype + R"(,"shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
  };
  const std::string not_list = "shape is not a list of non-negative integers";
  const std::string bad_offsets = "data_offsets is not [begin, end]";
  const std::vector<Case> cases = {
      {"", 0, {"header is not valid JSON"}},
      {R"({"w":)", 0, {"header is not valid JSON"}},
      {"{\"w\xff\":1}", 0, {"header is not valid JSON"}},  // not UTF-8
      {"[1, 2]", 0, {"header is not a JSON object"}},
      {R"({"w":5})", 0, {"tensor 'w'", "entry is not an object"}},
      {R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4, {"tensor 'w'", "dtype is missing"}},
      {entry("4", "[1]", "[0,4]"), 4, {"tensor 'w'", "dtype is missing or not a string"}},
      {entry(R"("F64")", "[1]", "[0,8]"), 8, {"tensor 'w'", "unknown dtype 'F64'"}},
      {entry(R"("f32")", "[1]", "[0,4]"), 4, {"tensor 'w'", "unknown dtype 'f32'"}},
      {R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4, {"tensor 'w'", not_list}},
      {entry(R"("F32")", R"("1")", "[0,4]"), 4, {"tensor 'w'", not_list}},
      {entry(R"("F32")", "[-1]", "[0,4]"), 4, {"tensor 'w'", not_list}},
      {entry(R"("F32")", "[2.5]", "[0,4]"), 4, {"tensor 'w'", not_list}},
      {entry(R"("F32")", "[[1]]", "[0,4]"), 4, {"tensor 'w'", not_list}},
      {entry(R"("F32")", "[18446744073709551615]", "[0,4]"), 4, {"tensor 'w'", not_list}},
      {R"({"w":{"dtype":"F32","shape":[1]}})", 4, {"tensor 'w'", bad_offsets}},
      {entry(R"("F32")", "[1]", "[0]"), 4, {"tensor 'w'", bad_offsets}},
      {entry(R"("F32")", "[1]", "[0,4,8]"), 4, {"tensor 'w'", bad_offsets}},
      {entry(R"("F32")", "[1]", "[4,0]"), 4, {"tensor 'w'", bad_offsets}},
      {entry(R"("F32")", "[1]", "[-4,0]"), 4, {"tensor 'w'", bad_offsets}},
      {entry(R"("F32")", "[1]", R"(["0","4"])"), 4, {"tensor 'w'", bad_offsets}},
      {entry(R"("F32")", "[1]", R"({"begin":0})"), 4, {"tensor 'w'", bad_offsets}},
      {entry(R"("F32")", "[3]", "[0,8]"), 8, {"tensor 'w'", "hold 8 bytes", "needs 12"}},
      {entry(R"("BF16")", "[2,2]", "[0,4]"), 4, {"tensor 'w'", "hold 4 bytes", "[2, 2] of BF16 needs 8"}},
      // 2^32 * 2^32 * 4 bytes wraps to 0 in 64 bits: must not pass as an empty tensor.
      {entry(R"("F32")", "[4294967296,4294967296]", "[0,0]"), 0, {"tensor 'w'", "is too large"}},
      {entry(R"("F32")", "[2]", "[0,8]"), 4, {"tensor 'w'", "[0, 8] are out of range of the 4-byte data buffer"}},
      {entry(R"("U8")", "[1]", "[18446744073709551614,18446744073709551615]"), 1, {"tensor 'w'", "out of range"}},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       12,
       {"tensor 'b'", "[4, 12] overlap the previous tensor"}},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
       8,
       {"tensor 'b'", "overlap"}},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
       12,
       {"tensor 'b'", "gap of 4 bytes"}},
      {entry(R"("F32")", "[1]", "[4,8]"), 8, {"tensor 'w'", "gap of 4 bytes"}},
      {entry(R"("F32")", "[1]", "[0,4]"), 8, {"data buffer is 8 bytes but tensors cover only 4"}},
      {"{}", 1, {"data buffer is 1 bytes but tensors cover only 0"}},
      {R"({"__metadata__":["x"]})", 0, {"__metadata__ is not an object"}},
      {R"({"__metadata__":{"ok":"yes","step":3}})", 0, {"__metadata__ value for 'step' is not a string"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header);
    write_raw(path, craft(c.header, c.data_size));
    expect_read_error(path, c.fragments);
  }
}

// The file the interop script reads: tests/model/safetensors_interop.py hard-codes the same contents.
TEST_F(Safetensors, WritesTheInteropFixture) {
  const std::vector<float> weight = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
  const std::vector<uint16_t> bias = {0x3C00, 0xC000, 0x3800};  // 1, -2, 0.5
  const std::vector<uint16_t> scale = {0x3FC0, 0xC040};         // 1.5, -3
  const std::vector<int64_t> step = {42};
  const std::vector<int32_t> ids = {-1, 0, 1, INT32_MAX};
  const std::vector<uint8_t> mask = {0, 1, 255};
  const std::string path = test::scratch_path("muse_safetensors_interop") + ".safetensors";
  write_safetensors(path,
                    {view("weight", DType::F32, {2, 3}, weight), view("bias", DType::F16, {3}, bias),
                     view("scale", DType::BF16, {2}, scale), view("step", DType::I64, {}, step),
                     view("ids", DType::I32, {4}, ids), view("mask", DType::U8, {3}, mask),
                     view("empty", DType::F32, {0, 4}, kEmpty)},
                    {{"format", "pt"}, {"producer", "muse"}});
  EXPECT_EQ(read_safetensors(path).tensors.size(), 7u);
}

// A valid file with metadata and several tensors, for the robustness tests.
std::string valid_file_bytes(const std::string& dir) {
  const std::string path = dir + "/valid.safetensors";
  write_safetensors(path,
                    {view("w", DType::F32, {2, 3}, kF32), view("h", DType::F16, {2, 2}, kF16),
                     view("e", DType::U8, {0}, kNoBytes), view("i", DType::I64, {4}, kI64)},
                    {{"format", "pt"}});
  return read_file(path);
}

TEST_F(Safetensors, EveryTruncationIsRejected) {
  const std::string bytes = valid_file_bytes(dir_);
  const std::string path = dir_ + "/truncated.safetensors";
  for (size_t length = 0; length < bytes.size(); ++length) {
    write_raw(path, bytes.substr(0, length));
    EXPECT_THROW(read_safetensors(path), MuseError) << "length " << length;
  }
}

TEST_F(Safetensors, RandomByteFlipsAreReadOrRejectedNeverCrash) {
  const std::string bytes = valid_file_bytes(dir_);
  const std::string path = dir_ + "/mutated.safetensors";
  Rng rng(20240601);
  int accepted = 0;
  int rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string mutated = bytes;
    const int flips = static_cast<int>(rng.uniform_int(1, 3));
    for (int i = 0; i < flips; ++i) {
      const size_t position = static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(bytes.size()) - 1));
      // Half bit flips (near-valid files), half arbitrary bytes.
      mutated[position] = rng.bernoulli(0.5) ? static_cast<char>(mutated[position] ^ (1 << rng.uniform_int(0, 7)))
                                             : static_cast<char>(rng.uniform_int(0, 255));
    }
    write_raw(path, mutated);
    try {
      const SafetensorsFile file = read_safetensors(path);
      for (const TensorRecord& tensor : file.tensors) {
        ASSERT_EQ(tensor.data.size(), static_cast<size_t>(tensor.numel()) * dtype_size(tensor.dtype));
      }
      ++accepted;
    } catch (const MuseError&) {
      ++rejected;
    } catch (const std::exception& error) {
      FAIL() << "trial " << trial << ": non-MuseError exception: " << error.what();
    }
  }
  // Both outcomes must occur, or the mutations are not exercising the reader.
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace muse
