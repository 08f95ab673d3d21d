// Decoding trusts nothing. stb_image is small and fast but was written for game assets, not for files from
// strangers, so every input passes four gates before stb decodes a pixel:
//   1. its magic bytes say PNG or JPEG;
//   2. a walk over its structure (PNG chunks and CRCs / JPEG markers and tables) that decodes no pixels:
//      truncation and broken framing are reported precisely here instead of as stb's terse reasons, and
//      the JPEG tables stb would trust blindly are checked (see JpegTables);
//   3. the size its header claims is checked against ImageLimits (decompression bombs stop here), and
//      stbi_info_from_memory must agree with it;
//   4. PNG only: its compressed pixel data is inflated into a buffer of the size the header implies. stb's
//      own inflater grows its output without bound, so a 1x1 PNG could otherwise inflate to gigabytes.
#include "data/image.h"

#include <stb_image.h>
#include <stb_image_write.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "util/atomic_file.h"
#include "util/error.h"

namespace muse {
namespace {

std::string dims(int64_t width, int64_t height) { return std::to_string(width) + "x" + std::to_string(height); }

// stb reports failures through a (thread-local) string. It tries every format in turn, and some of its
// failure paths set no reason, so what remains may come from probing another format ("bad png sig",
// "no SOI", "unknown image type"): that says nothing about this file, whose format is already known.
std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  const std::string text = reason != nullptr ? reason : "";
  if (text.empty() || text == "bad png sig" || text == "no SOI" || text == "unknown image type") return "corrupt data";
  return text;
}

// An Image whose pixel buffer does not match its size would make every pixel loop read out of bounds.
void check_shape(const Image& image, const std::string& what) {
  if (image.width < 1 || image.height < 1 ||
      image.rgb.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3) {
    throw MuseError(what + ": invalid image (" + dims(image.width, image.height) + " with " +
                    std::to_string(image.rgb.size()) + " bytes of pixels)");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Gate 1: the format, from the magic bytes.

enum class Format { Png, Jpeg };

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr uint8_t kJpegSignature[3] = {0xFF, 0xD8, 0xFF};

bool starts_with(const uint8_t* data, size_t size, const char* magic) {
  const size_t length = std::strlen(magic);
  return size >= length && std::memcmp(data, magic, length) == 0;
}

// Names a few formats people commonly try, so the error says what the file actually is.
std::string looks_like(const uint8_t* data, size_t size) {
  if (starts_with(data, size, "GIF87a") || starts_with(data, size, "GIF89a")) return "; the data looks like GIF";
  if (starts_with(data, size, "BM")) return "; the data looks like BMP";
  if (starts_with(data, size, "RIFF") && size >= 12 && std::memcmp(data + 8, "WEBP", 4) == 0) {
    return "; the data looks like WebP";
  }
  if (starts_with(data, size, "II*") || starts_with(data, size, "MM")) return "; the data looks like TIFF";
  return "";
}

Format detect_format(const uint8_t* data, size_t size, const std::string& name) {
  if (size >= sizeof(kPngSignature) && std::memcmp(data, kPngSignature, sizeof(kPngSignature)) == 0) {
    return Format::Png;
  }
  if (size >= sizeof(kJpegSignature) && std::memcmp(data, kJpegSignature, sizeof(kJpegSignature)) == 0) {
    return Format::Jpeg;
  }
  // A prefix of a signature is a file cut off in its first bytes, not a different format.
  if (size < sizeof(kPngSignature) && std::memcmp(data, kPngSignature, size) == 0) {
    throw file_error(name, "truncated PNG (" + std::to_string(size) + " bytes, shorter than its 8-byte signature)");
  }
  if (size < sizeof(kJpegSignature) && std::memcmp(data, kJpegSignature, size) == 0) {
    throw file_error(name, "truncated JPEG (" + std::to_string(size) + " bytes)");
  }
  throw file_error(name, "unsupported image format (expected PNG or JPEG)" + looks_like(data, size));
}

// ---------------------------------------------------------------------------------------------------------
// Gate 2: structure walks. Each returns what the later gates need from the header.

uint32_t read_be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
uint32_t read_be16(const uint8_t* p) { return (static_cast<uint32_t>(p[0]) << 8) | p[1]; }

// PNG's CRC-32 (ISO 3309, polynomial 0xEDB88320). stb skips CRCs; checking them is what lets a flipped
// bit in a critical chunk be reported as corruption instead of decoding to wrong pixels.
uint32_t png_crc(const uint8_t* data, size_t size) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

// A chunk type for messages: the four letters, or hex when corruption made them unprintable.
std::string chunk_name(const uint8_t* type) {
  bool letters = true;
  for (int i = 0; i < 4; ++i) letters = letters && std::isalpha(type[i]);
  if (letters) return "'" + std::string(reinterpret_cast<const char*>(type), 4) + "'";
  char hex[16];
  std::snprintf(hex, sizeof(hex), "0x%08x", static_cast<unsigned>(read_be32(type)));
  return hex;
}

struct PngHeader {
  uint32_t width = 0;
  uint32_t height = 0;
  int samples = 0;    // samples per pixel as stored: 1 for grey and palette, 2 grey+alpha, 3 RGB, 4 RGBA
  int bit_depth = 0;  // bits per sample
  bool interlaced = false;
  std::vector<std::pair<size_t, size_t>> idat;  // (offset, length) of each IDAT payload, in file order
};

void parse_ihdr(const uint8_t* payload, uint32_t length, const std::string& name, PngHeader* png) {
  if (length != 13) throw file_error(name, "corrupt PNG (IHDR chunk is " + std::to_string(length) + " bytes, not 13)");
  png->width = read_be32(payload);
  png->height = read_be32(payload + 4);
  png->bit_depth = payload[8];
  const int colour_type = payload[9];
  const int interlace = payload[12];
  if (png->width > INT32_MAX || png->height > INT32_MAX) {
    throw file_error(name, "corrupt PNG (IHDR size " + dims(png->width, png->height) + " is over the PNG maximum)");
  }
  // The bit depths the PNG specification allows for each colour type.
  const int depth = png->bit_depth;
  const bool any_depth = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
  const bool wide_depth = depth == 8 || depth == 16;
  switch (colour_type) {
    case 0:  // grey
    case 3:  // palette index
      png->samples = 1;
      break;
    case 4:  // grey + alpha
      png->samples = 2;
      break;
    case 2:  // RGB
      png->samples = 3;
      break;
    case 6:  // RGBA
      png->samples = 4;
      break;
    default:
      throw file_error(name,
                       "corrupt PNG (IHDR colour type " + std::to_string(colour_type) + " is not 0, 2, 3, 4 or 6)");
  }
  const bool valid_depth = colour_type == 0 ? any_depth : colour_type == 3 ? any_depth && depth != 16 : wide_depth;
  if (!valid_depth) {
    throw file_error(name, "corrupt PNG (IHDR bit depth " + std::to_string(depth) + " is not valid for colour type " +
                               std::to_string(colour_type) + ")");
  }
  if (payload[10] != 0) {
    throw file_error(name, "corrupt PNG (IHDR compression method " + std::to_string(payload[10]) + ")");
  }
  if (payload[11] != 0) {
    throw file_error(name, "corrupt PNG (IHDR filter method " + std::to_string(payload[11]) + ")");
  }
  if (interlace > 1) throw file_error(name, "corrupt PNG (IHDR interlace method " + std::to_string(interlace) + ")");
  png->interlaced = interlace == 1;
}

// Walks the chunks from the signature to IEND: every chunk must lie inside the data, critical chunks must
// pass their CRC, IHDR must come first. Bytes after IEND are ignored, as every PNG reader does.
PngHeader walk_png(const uint8_t* data, size_t size, const std::string& name) {
  PngHeader png;
  bool seen_ihdr = false;
  size_t pos = sizeof(kPngSignature);
  for (;;) {
    const size_t left = size - pos;
    if (left == 0) throw file_error(name, "truncated PNG (data ends before the IEND chunk)");
    if (left < 8) throw file_error(name, "truncated PNG (chunk header at byte " + std::to_string(pos) + " is cut off)");
    const uint32_t length = read_be32(data + pos);
    const uint8_t* type = data + pos + 4;
    const uint8_t* payload = data + pos + 8;
    if (length > INT32_MAX) {
      throw file_error(name, "corrupt PNG (chunk " + chunk_name(type) + " at byte " + std::to_string(pos) + " claims " +
                                 std::to_string(length) + " bytes, over the PNG maximum)");
    }
    if (static_cast<size_t>(length) + 12 > left) {
      throw file_error(name, "truncated PNG (chunk " + chunk_name(type) + " at byte " + std::to_string(pos) +
                                 " needs " + std::to_string(length + 12ull) + " bytes, only " + std::to_string(left) +
                                 " remain)");
    }
    // Bit 5 of the first type byte clear = critical chunk (the decoder needs it). Like libpng, a bad CRC on
    // an ancillary chunk (metadata) is tolerated.
    const bool critical = (type[0] & 0x20) == 0;
    if (critical && png_crc(type, length + 4) != read_be32(payload + length)) {
      throw file_error(
          name, "corrupt PNG (CRC mismatch in chunk " + chunk_name(type) + " at byte " + std::to_string(pos) + ")");
    }
    if (std::memcmp(type, "IHDR", 4) == 0) {
      if (seen_ihdr) throw file_error(name, "corrupt PNG (second IHDR chunk at byte " + std::to_string(pos) + ")");
      parse_ihdr(payload, length, name, &png);
      seen_ihdr = true;
    } else if (!seen_ihdr) {
      // stb would decode Apple's CgBI variant without undoing its BGR order and premultiplied alpha.
      if (std::memcmp(type, "CgBI", 4) == 0) throw file_error(name, "unsupported PNG variant (Apple CgBI)");
      throw file_error(name, "corrupt PNG (first chunk is " + chunk_name(type) + ", not IHDR)");
    } else if (std::memcmp(type, "IDAT", 4) == 0) {
      png.idat.emplace_back(pos + 8, length);
    } else if (std::memcmp(type, "IEND", 4) == 0) {
      break;
    }
    pos += static_cast<size_t>(length) + 12;
  }
  if (png.idat.empty()) throw file_error(name, "corrupt PNG (no IDAT chunk: the image has no pixel data)");
  return png;
}

struct JpegHeader {
  int width = 0;
  int height = 0;
};

// The most scans a JPEG may have. Progressive files use about 10; each scan costs a pass over the whole
// image, so a file of thousands of tiny scans is a decoding-time bomb (libjpeg-turbo limits them too).
constexpr int kMaxJpegScans = 500;

// Frame headers (SOFn) carry the size: C0-CF except C4 (DHT), C8 (reserved) and CC (DAC).
bool is_frame_marker(uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// The tables a scan may use. stb keeps its tables in memory it never initialises and does not check
// them the way the JPEG specification requires, so the walk checks what stb would otherwise trust:
//   - a Huffman table defines at most 256 codes (more overflow stb's table arrays: a memory corruption
//     that UBSan found in this build of stb when fuzzing);
//   - every table a scan uses was defined before it (stb would decode with uninitialised memory:
//     garbage symbols index out of bounds, and leftover heap contents leak into the pixels).
class JpegTables {
 public:
  explicit JpegTables(const std::string& name) : name_(name) {}

  // DHT: one or more tables, each a class/id byte, 16 code counts, then the symbols.
  void define_huffman(const uint8_t* payload, size_t length, size_t at) {
    size_t i = 0;
    while (i < length) {
      if (length - i < 17) throw corrupt("Huffman table segment at byte " + std::to_string(at) + " is cut short");
      const int table_class = payload[i] >> 4, id = payload[i] & 15;
      if (table_class > 1 || id > 3) {
        throw corrupt("Huffman table at byte " + std::to_string(at) + " has class " + std::to_string(table_class) +
                      " and id " + std::to_string(id));
      }
      size_t codes = 0;
      for (int bits = 0; bits < 16; ++bits) codes += payload[i + 1 + bits];
      if (codes > 256) {
        throw corrupt("Huffman table at byte " + std::to_string(at) + " defines " + std::to_string(codes) +
                      " codes, more than 256");
      }
      if (length - i - 17 < codes) {
        throw corrupt("Huffman table segment at byte " + std::to_string(at) + " is cut short");
      }
      huffman_[table_class][id] = true;
      i += 17 + codes;
    }
  }

  // DQT: one or more tables, each a precision/id byte then 64 entries of 8 or 16 bits.
  void define_quantisation(const uint8_t* payload, size_t length, size_t at) {
    size_t i = 0;
    while (i < length) {
      const int precision = payload[i] >> 4, id = payload[i] & 15;
      if (precision > 1 || id > 3) {
        throw corrupt("quantisation table at byte " + std::to_string(at) + " has precision " +
                      std::to_string(precision) + " and id " + std::to_string(id));
      }
      const size_t size = 1 + 64 * static_cast<size_t>(precision + 1);
      if (length - i < size) {
        throw corrupt("quantisation table segment at byte " + std::to_string(at) + " is cut short");
      }
      quantisation_[id] = true;
      i += size;
    }
  }

  // SOFn: remembers which quantisation table each component uses.
  void frame(uint8_t marker, const uint8_t* payload, size_t length) {
    progressive_ = marker == 0xC2;  // the only progressive mode stb decodes
    const size_t count = length >= 6 ? payload[5] : 0;
    for (size_t k = 0; k < count && 6 + 3 * k + 2 < length; ++k) {
      components_.push_back({payload[6 + 3 * k], payload[6 + 3 * k + 2]});
    }
  }

  // SOS: the scan's components, their table selectors, and the spectral range that decides which
  // tables stb reads: DC scans (start 0) read the DC table unless they refine (Ah > 0), AC scans
  // (start > 0) read the AC table; baseline scans read both.
  void scan(const uint8_t* payload, size_t length, size_t at) {
    if (length < 1 || length < 4 + 2 * static_cast<size_t>(payload[0])) return;  // stb reports bad SOS lengths
    const int count = payload[0];
    const int spectral_start = payload[1 + 2 * count];
    const int approximation_high = payload[3 + 2 * count] >> 4;
    const bool uses_dc = !progressive_ || (spectral_start == 0 && approximation_high == 0);
    const bool uses_ac = !progressive_ || spectral_start > 0;
    const std::string where = " in the scan at byte " + std::to_string(at);
    for (int k = 0; k < count; ++k) {
      const int id = payload[1 + 2 * k];
      const int dc = payload[2 + 2 * k] >> 4, ac = payload[2 + 2 * k] & 15;
      if (dc > 3 || ac > 3) continue;  // stb rejects these selectors itself
      if (uses_dc && !huffman_[0][dc]) throw undefined("DC Huffman table " + std::to_string(dc) + where);
      if (uses_ac && !huffman_[1][ac]) throw undefined("AC Huffman table " + std::to_string(ac) + where);
      for (const auto& [component, table] : components_) {
        if (component == id && table <= 3 && !quantisation_[table]) {
          throw undefined("quantisation table " + std::to_string(table) + where);
        }
      }
    }
  }

 private:
  MuseError corrupt(const std::string& problem) const { return file_error(name_, "corrupt JPEG (" + problem + ")"); }
  MuseError undefined(const std::string& what) const {
    return file_error(name_, "corrupt JPEG (" + what + " is used but never defined)");
  }

  const std::string& name_;
  bool huffman_[2][4] = {};  // [0 DC / 1 AC][id]
  bool quantisation_[4] = {};
  bool progressive_ = false;
  std::vector<std::pair<int, int>> components_;  // (component id, quantisation table id)
};

// Walks the markers from SOI to EOI: every segment must lie inside the data, the file must end with EOI
// (stb would silently decode a truncated JPEG, padding it with grey), the scan count is bounded and the
// tables are checked (JpegTables). Stray bytes between segments are skipped, as stb skips them.
JpegHeader walk_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  JpegHeader jpeg;
  JpegTables tables(name);
  bool seen_frame = false;
  int scans = 0;
  const std::string no_end = "truncated JPEG (data ends before the end-of-image marker)";
  size_t pos = 2;  // after SOI
  for (;;) {
    while (pos < size && data[pos] != 0xFF) ++pos;
    while (pos < size && data[pos] == 0xFF) ++pos;  // 0xFF fill bytes may precede any marker
    if (pos >= size) throw file_error(name, no_end);
    const size_t marker_pos = pos - 1;
    const uint8_t marker = data[pos++];
    if (marker == 0xD9) break;  // EOI
    // Markers without a payload: stuffed zero (stray here), SOI, TEM, RST0-7.
    if (marker == 0x00 || marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (size - pos < 2) throw file_error(name, no_end);
    const size_t length = read_be16(data + pos);  // counts itself, not the marker
    if (length < 2) {
      throw file_error(name, "corrupt JPEG (segment at byte " + std::to_string(marker_pos) + " has length " +
                                 std::to_string(length) + ")");
    }
    if (length > size - pos) {
      throw file_error(name, "truncated JPEG (segment at byte " + std::to_string(marker_pos) + " needs " +
                                 std::to_string(length) + " bytes, only " + std::to_string(size - pos) + " remain)");
    }
    const uint8_t* payload = data + pos + 2;
    const size_t payload_length = length - 2;
    if (is_frame_marker(marker) && !seen_frame) {
      if (length < 8) throw file_error(name, "corrupt JPEG (frame header is " + std::to_string(length) + " bytes)");
      jpeg.height = static_cast<int>(read_be16(payload + 1));
      jpeg.width = static_cast<int>(read_be16(payload + 3));
      tables.frame(marker, payload, payload_length);
      seen_frame = true;
    } else if (marker == 0xC4) {
      tables.define_huffman(payload, payload_length, marker_pos);
    } else if (marker == 0xDB) {
      tables.define_quantisation(payload, payload_length, marker_pos);
    }
    pos += length;
    if (marker != 0xDA) continue;  // not SOS: the next marker follows the segment
    if (!seen_frame) {
      throw file_error(name,
                       "corrupt JPEG (scan at byte " + std::to_string(marker_pos) + " comes before the frame header)");
    }
    tables.scan(payload, payload_length, marker_pos);
    if (++scans > kMaxJpegScans) {
      throw file_error(
          name, "JPEG has more than " + std::to_string(kMaxJpegScans) + " scans (refused as a decoding-time bomb)");
    }
    // Entropy-coded data follows SOS up to the next marker. Inside it 0xFF is always followed by 0x00
    // (a stuffed zero) or by a restart marker RST0-7.
    for (;;) {
      while (pos < size && data[pos] != 0xFF) ++pos;
      size_t next = pos + 1;
      while (next < size && data[next] == 0xFF) ++next;
      if (next >= size) throw file_error(name, no_end);
      if (data[next] != 0x00 && !(data[next] >= 0xD0 && data[next] <= 0xD7)) break;  // a real marker at pos
      pos = next + 1;
    }
  }
  if (!seen_frame) throw file_error(name, "corrupt JPEG (no frame header before the end-of-image marker)");
  return jpeg;
}

// ---------------------------------------------------------------------------------------------------------
// Gate 3: the limits, applied to the size the header claims.

void check_limits(int64_t width, int64_t height, const ImageLimits& limits, const std::string& name) {
  if (width < 1 || height < 1) throw file_error(name, "image has zero width or height (" + dims(width, height) + ")");
  if (width > limits.max_side || height > limits.max_side) {
    throw file_error(name, "image is " + dims(width, height) + " pixels, over the limit of " +
                               std::to_string(limits.max_side) + " pixels per side");
  }
  if (width * height > limits.max_pixels) {
    throw file_error(name, "image is " + dims(width, height) + " = " + std::to_string(width * height) +
                               " pixels, over the limit of " + std::to_string(limits.max_pixels) + " pixels");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Gate 4: PNG pixel data inflates to the size its header implies.

// Bytes the zlib stream must inflate to: every row of every pass is a filter byte plus its packed samples.
uint64_t png_raw_bytes(const PngHeader& png) {
  const auto pass_bytes = [&](uint64_t width, uint64_t height) -> uint64_t {
    if (width == 0 || height == 0) return 0;
    return height * (1 + (width * png.samples * png.bit_depth + 7) / 8);
  };
  if (!png.interlaced) return pass_bytes(png.width, png.height);
  // Adam7: seven passes over sub-grids starting at (x0, y0) with steps (dx, dy).
  static const int x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
  static const int dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
  uint64_t total = 0;
  for (int p = 0; p < 7; ++p) {
    total += pass_bytes((png.width + dx[p] - 1 - x0[p]) / dx[p], (png.height + dy[p] - 1 - y0[p]) / dy[p]);
  }
  return total;
}

// stb accepts a little data after the pixels (a PNG in the wild pads with zeros, stb issue #276), so the
// bound allows that much beyond the exact size; a bomb is many times larger.
constexpr uint64_t kPngTrailingSlack = 64 << 10;

void check_png_pixel_data(const uint8_t* data, const PngHeader& png, const std::string& name) {
  std::vector<uint8_t> compressed;
  for (const auto& [offset, length] : png.idat)
    compressed.insert(compressed.end(), data + offset, data + offset + length);
  const uint64_t expected = png_raw_bytes(png);
  const uint64_t capacity = expected + kPngTrailingSlack;
  if (capacity > INT_MAX || compressed.size() > INT_MAX) {
    throw file_error(name, "PNG is too large for the decoder (" + std::to_string(expected) + " bytes of pixel data)");
  }
  std::vector<uint8_t> inflated(capacity);
  const int produced =
      stbi_zlib_decode_buffer(reinterpret_cast<char*>(inflated.data()), static_cast<int>(capacity),
                              reinterpret_cast<const char*>(compressed.data()), static_cast<int>(compressed.size()));
  if (produced < 0) {
    const std::string reason = stb_reason();
    if (reason == "output buffer limit") {
      throw file_error(name, "corrupt PNG or decompression bomb (its pixel data inflates to more than the " +
                                 std::to_string(expected) + " bytes a " + dims(png.width, png.height) +
                                 " image needs)");
    }
    throw file_error(name, "corrupt PNG (compressed pixel data: stb_image: " + reason + ")");
  }
  if (static_cast<uint64_t>(produced) < expected) {
    throw file_error(name, "truncated PNG pixel data (inflates to " + std::to_string(produced) + " bytes, a " +
                               dims(png.width, png.height) + " image needs " + std::to_string(expected) + ")");
  }
}

// ---------------------------------------------------------------------------------------------------------

// Alpha composited on white: a transparent pixel is white, as an image viewer shows it on a page.
uint8_t over_white(uint8_t value, uint8_t alpha) {
  return static_cast<uint8_t>((value * alpha + 255 * (255 - alpha) + 127) / 255);
}

}  // namespace

Image make_image(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  if (width < 1 || height < 1) throw MuseError("make_image: size " + dims(width, height) + " is not at least 1x1");
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  for (size_t i = 0; i < image.rgb.size(); i += 3) {
    image.rgb[i] = r;
    image.rgb[i + 1] = g;
    image.rgb[i + 2] = b;
  }
  return image;
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits) {
  if (size == 0) throw file_error(name, "empty image data (0 bytes)");
  if (data == nullptr) throw file_error(name, "no image data (null pointer for " + std::to_string(size) + " bytes)");
  if (size > limits.max_file_bytes) {
    throw file_error(name, "image data is " + std::to_string(size) + " bytes, over the limit of " +
                               std::to_string(limits.max_file_bytes) + " bytes");
  }
  if (size > INT_MAX) {
    throw file_error(name, "image data is " + std::to_string(size) + " bytes, too large for the decoder");
  }
  const Format format = detect_format(data, size, name);
  const std::string format_name = format == Format::Png ? "PNG" : "JPEG";

  PngHeader png;
  int width = 0, height = 0;
  if (format == Format::Png) {
    png = walk_png(data, size, name);
    width = static_cast<int>(png.width);
    height = static_cast<int>(png.height);
  } else {
    const JpegHeader jpeg = walk_jpeg(data, size, name);
    width = jpeg.width;
    height = jpeg.height;
  }
  check_limits(width, height, limits, name);

  // stb's own reading of the header must agree before it is allowed to decode. (When stbi_info fails it
  // goes on to probe the other formats, so its reason is always lost.)
  int info_width = 0, info_height = 0, info_channels = 0;
  if (!stbi_info_from_memory(data, static_cast<int>(size), &info_width, &info_height, &info_channels)) {
    throw file_error(name, "corrupt " + format_name + " header (stb_image cannot read it)");
  }
  if (info_width != width || info_height != height) {
    throw file_error(name, "corrupt " + format_name + " (header size " + dims(width, height) + " but stb_image reads " +
                               dims(info_width, info_height) + ")");
  }
  if (format == Format::Png) check_png_pixel_data(data, png, name);

  // Always ask for RGBA: stb converts grey, grey+alpha, palette, tRNS and 16-bit samples to 8-bit RGBA.
  int decoded_width = 0, decoded_height = 0, channels_in_file = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> rgba(
      stbi_load_from_memory(data, static_cast<int>(size), &decoded_width, &decoded_height, &channels_in_file, 4),
      stbi_image_free);
  if (!rgba) throw file_error(name, "cannot decode " + format_name + " (stb_image: " + stb_reason() + ")");
  if (decoded_width != width || decoded_height != height) {
    throw file_error(name, "corrupt " + format_name + " (header size " + dims(width, height) + " but decoded " +
                               dims(decoded_width, decoded_height) + ")");
  }

  Image image;
  image.width = width;
  image.height = height;
  const size_t pixels = static_cast<size_t>(width) * static_cast<size_t>(height);
  image.rgb.resize(pixels * 3);
  const stbi_uc* in = rgba.get();
  for (size_t i = 0; i < pixels; ++i) {
    for (int c = 0; c < 3; ++c) image.rgb[i * 3 + c] = over_white(in[i * 4 + c], in[i * 4 + 3]);
  }
  return image;
}

Image load_image(const std::string& path, const ImageLimits& limits) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) {
    const int error_number = errno;
    throw file_error(path, std::string("cannot open file (") + std::strerror(error_number) + ")",
                     open_error_kind(error_number));
  }
  // The size is checked before reading, so a huge file costs nothing.
  struct stat info;
  if (::fstat(::fileno(file.get()), &info) != 0) {
    throw file_error(path, std::string("cannot stat file (") + std::strerror(errno) + ")");
  }
  if (S_ISDIR(info.st_mode)) throw file_error(path, "is a directory, not an image");
  const auto too_big = [&](uint64_t bytes) {
    return file_error(path, "file is " + std::to_string(bytes) + " bytes, over the image limit of " +
                                std::to_string(limits.max_file_bytes) + " bytes");
  };
  if (S_ISREG(info.st_mode) && static_cast<uint64_t>(info.st_size) > limits.max_file_bytes) throw too_big(info.st_size);
  // Reading still stops at the limit: the file may grow meanwhile, or not be a regular file at all.
  std::vector<uint8_t> bytes;
  if (S_ISREG(info.st_mode)) bytes.reserve(static_cast<size_t>(info.st_size));
  uint8_t buffer[1 << 16];
  size_t count;
  while ((count = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    bytes.insert(bytes.end(), buffer, buffer + count);
    if (bytes.size() > limits.max_file_bytes) throw too_big(bytes.size());
  }
  if (std::ferror(file.get())) throw file_error(path, std::string("cannot read file (") + std::strerror(errno) + ")");
  if (bytes.empty()) throw file_error(path, "empty file (0 bytes)");
  return decode_image(bytes.data(), bytes.size(), path, limits);
}

namespace {

// Appends stb_image_write's output. No exception may cross the C code that calls it, so a failure to
// grow the buffer is recorded and reported afterwards.
struct PngSink {
  std::vector<uint8_t> bytes;
  bool failed = false;
  static void append(void* context, void* data, int size) {
    auto* sink = static_cast<PngSink*>(context);
    try {
      const auto* begin = static_cast<const uint8_t*>(data);
      sink->bytes.insert(sink->bytes.end(), begin, begin + size);
    } catch (...) {
      sink->failed = true;
    }
  }
};

}  // namespace

std::vector<uint8_t> encode_png(const Image& image) {
  check_shape(image, "encode_png");
  if (image.width > INT_MAX / 3) {
    throw MuseError("encode_png: image is too wide (" + std::to_string(image.width) + " pixels)");
  }
  PngSink sink;
  const int ok =
      stbi_write_png_to_func(&PngSink::append, &sink, image.width, image.height, 3, image.rgb.data(), image.width * 3);
  if (!ok || sink.failed) throw MuseError("encode_png: cannot encode a " + dims(image.width, image.height) + " image");
  return std::move(sink.bytes);
}

void save_png(const Image& image, const std::string& path) {
  std::vector<uint8_t> png;
  try {
    png = encode_png(image);
  } catch (const MuseError& e) {
    throw file_error(path, e.what(), e.kind());
  }
  write_file_atomic(path, std::string(png.begin(), png.end()));
}

namespace {

// One output sample along an axis is a weighted sum of input samples along it.
struct Tap {
  int index;
  float weight;
};

// Weights that resample `from` samples to `to` along one axis.
std::vector<std::vector<Tap>> axis_taps(int from, int to) {
  std::vector<std::vector<Tap>> taps(to);
  if (to <= from) {
    // Area averaging (a box filter): output i covers input [i * from / to, (i + 1) * from / to) and each
    // input sample weighs by how much of it lies inside. Measured in units of 1/to input pixels the bounds
    // are integers, so the weights are exact and a thin stroke keeps its ink instead of being skipped.
    for (int i = 0; i < to; ++i) {
      const int64_t lo = static_cast<int64_t>(i) * from;
      const int64_t hi = lo + from;
      for (int64_t j = lo / to; j * to < hi; ++j) {
        const int64_t overlap = std::min(hi, (j + 1) * to) - std::max(lo, j * to);
        taps[i].push_back({static_cast<int>(j), static_cast<float>(overlap) / static_cast<float>(from)});
      }
    }
  } else {
    // Bilinear: pixel centres line up ((i + 0.5) * from / to - 0.5), edges are clamped.
    for (int i = 0; i < to; ++i) {
      const double x = std::clamp((i + 0.5) * from / to - 0.5, 0.0, static_cast<double>(from - 1));
      const int j = static_cast<int>(std::floor(x));
      const float t = static_cast<float>(x - j);
      taps[i].push_back({j, 1.0f - t});
      if (t > 0.0f && j + 1 < from) taps[i].push_back({j + 1, t});
    }
  }
  return taps;
}

}  // namespace

Image resize_image(const Image& image, int width, int height) {
  check_shape(image, "resize_image");
  if (width < 1 || height < 1) {
    throw MuseError("resize_image: target size " + dims(width, height) + " is not at least 1x1");
  }
  const std::vector<std::vector<Tap>> x_taps = axis_taps(image.width, width);
  const std::vector<std::vector<Tap>> y_taps = axis_taps(image.height, height);

  // The filter is separable: rows first (into floats, no rounding in between), then columns.
  std::vector<float> rows(static_cast<size_t>(width) * image.height * 3);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < width; ++x) {
      float* out = &rows[(static_cast<size_t>(y) * width + x) * 3];
      for (const Tap& tap : x_taps[x]) {
        const uint8_t* in = image.pixel(tap.index, y);
        for (int c = 0; c < 3; ++c) out[c] += tap.weight * in[c];
      }
    }
  }
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      float sum[3] = {0, 0, 0};
      for (const Tap& tap : y_taps[y]) {
        const float* in = &rows[(static_cast<size_t>(tap.index) * width + x) * 3];
        for (int c = 0; c < 3; ++c) sum[c] += tap.weight * in[c];
      }
      uint8_t* pixel = out.pixel(x, y);
      for (int c = 0; c < 3; ++c) pixel[c] = static_cast<uint8_t>(std::clamp(std::lround(sum[c]), 0L, 255L));
    }
  }
  return out;
}

Image crop_image(const Image& image, int x0, int y0, int x1, int y1) {
  check_shape(image, "crop_image");
  const int left = std::clamp(x0, 0, image.width), right = std::clamp(x1, 0, image.width);
  const int top = std::clamp(y0, 0, image.height), bottom = std::clamp(y1, 0, image.height);
  if (left >= right || top >= bottom) {
    throw MuseError("crop_image: box [" + std::to_string(x0) + ", " + std::to_string(x1) + ") x [" +
                    std::to_string(y0) + ", " + std::to_string(y1) + ") is empty inside the " +
                    dims(image.width, image.height) + " image");
  }
  Image out;
  out.width = right - left;
  out.height = bottom - top;
  out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
  for (int y = top; y < bottom; ++y) {
    std::copy(image.pixel(left, y), image.pixel(left, y) + static_cast<size_t>(out.width) * 3, out.pixel(0, y - top));
  }
  return out;
}

}  // namespace muse
