#include "data/image.h"

#include <gtest/gtest.h>
#include <stb_image_write.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>

#include "../util/error_kind_of.h"
#include "util/error.h"
#include "util/rng.h"

// Exported by libstb but not declared by its header: zlib-compresses, the result is freed with free().
extern "C" unsigned char* stbi_zlib_compress(unsigned char* data, int data_len, int* out_len, int quality);

namespace muse {
namespace {

using Bytes = std::vector<uint8_t>;

// ---- Building test images --------------------------------------------------------------------------------

Image noise_image(int width, int height, uint64_t seed) {
  Rng rng(seed);
  Image image = make_image(width, height);
  for (auto& byte : image.rgb) byte = static_cast<uint8_t>(rng.uniform_int(0, 255));
  return image;
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<Bytes*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

// A PNG written by stb_image_write with `channels` channels per pixel.
Bytes stb_png(int width, int height, int channels, const Bytes& pixels) {
  Bytes out;
  EXPECT_TRUE(stbi_write_png_to_func(append_bytes, &out, width, height, channels, pixels.data(), width * channels));
  return out;
}

Bytes stb_jpg(int width, int height, int channels, const Bytes& pixels, int quality) {
  Bytes out;
  EXPECT_TRUE(stbi_write_jpg_to_func(append_bytes, &out, width, height, channels, pixels.data(), quality));
  return out;
}

Bytes zlib_compress(const Bytes& raw) {
  int length = 0;
  unsigned char* compressed =
      stbi_zlib_compress(const_cast<uint8_t*>(raw.data()), static_cast<int>(raw.size()), &length, 8);
  Bytes out(compressed, compressed + length);
  std::free(compressed);
  return out;
}

uint32_t crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  return crc ^ 0xFFFFFFFFu;
}

void put_be32(Bytes& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}
uint32_t get_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
void set_be32(uint8_t* p, uint32_t value) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(value >> (24 - 8 * i));
}

Bytes png_chunk(const char* type, const Bytes& payload) {
  Bytes chunk;
  put_be32(chunk, static_cast<uint32_t>(payload.size()));
  chunk.insert(chunk.end(), type, type + 4);
  chunk.insert(chunk.end(), payload.begin(), payload.end());
  put_be32(chunk, crc32(chunk.data() + 4, payload.size() + 4));
  return chunk;
}

const Bytes kSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

Bytes ihdr(uint32_t width, uint32_t height, int depth, int colour, int interlace) {
  Bytes payload;
  put_be32(payload, width);
  put_be32(payload, height);
  payload.insert(payload.end(),
                 {static_cast<uint8_t>(depth), static_cast<uint8_t>(colour), 0, 0, static_cast<uint8_t>(interlace)});
  return png_chunk("IHDR", payload);
}

// A PNG from its chunks (signature added, IEND appended).
Bytes png_from_chunks(const std::vector<Bytes>& chunks) {
  Bytes out = kSignature;
  for (const auto& chunk : chunks) out.insert(out.end(), chunk.begin(), chunk.end());
  const Bytes iend = png_chunk("IEND", {});
  out.insert(out.end(), iend.begin(), iend.end());
  return out;
}

// Unfiltered scanlines of a PNG, Adam7 passes when interlaced: samples packed MSB first at `depth` bits
// (16-bit big-endian), one filter byte (0) per row. sample(x, y, s) gives sample s of pixel (x, y).
Bytes scanlines(int width, int height, int samples, int depth, bool interlaced,
                const std::function<uint32_t(int, int, int)>& sample) {
  struct Pass {
    int x0, y0, dx, dy;
  };
  std::vector<Pass> passes = {{0, 0, 1, 1}};
  if (interlaced)
    passes = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
  Bytes raw;
  for (const Pass& pass : passes) {
    for (int y = pass.y0; y < height; y += pass.dy) {
      if (pass.x0 >= width) break;  // empty pass: no rows at all
      raw.push_back(0);
      uint32_t bits = 0;
      int nbits = 0;
      for (int x = pass.x0; x < width; x += pass.dx) {
        for (int s = 0; s < samples; ++s) {
          bits = (bits << depth) | sample(x, y, s);
          nbits += depth;
          while (nbits >= 8) {
            raw.push_back(static_cast<uint8_t>(bits >> (nbits - 8)));
            nbits -= 8;
          }
        }
      }
      if (nbits > 0) raw.push_back(static_cast<uint8_t>(bits << (8 - nbits)));
    }
  }
  return raw;
}

// Position of the first 0xFF `marker` in a JPEG (tables and headers come before any entropy-coded data).
size_t find_marker(const Bytes& jpeg, uint8_t marker) {
  for (size_t i = 2; i + 1 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == marker) return i;
  }
  ADD_FAILURE() << "no marker " << int{marker};
  return 0;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const MuseError& e) {
    return e.what();
  }
  return "<no error>";
}

std::string decode_error(const Bytes& bytes, const ImageLimits& limits = {}) {
  return error_of([&] { decode_image(bytes.data(), bytes.size(), "img", limits); });
}

Image decode(const Bytes& bytes) { return decode_image(bytes.data(), bytes.size(), "img"); }

// ---- Decoding ---------------------------------------------------------------------------------------------

TEST(ImageDecode, PngRoundTripIsLossless) {
  for (auto [width, height] : {std::pair{1, 1}, {37, 23}, {200, 3}, {3, 200}}) {
    const Image image = noise_image(width, height, width * 1000 + height);
    const Bytes png = encode_png(image);
    const Image back = decode(png);
    EXPECT_EQ(back.width, width);
    EXPECT_EQ(back.height, height);
    EXPECT_EQ(back.rgb, image.rgb);
  }
}

TEST(ImageDecode, GreyAndAlphaPngsBecomeRgbOnWhite) {
  const int width = 5, height = 3;
  Rng rng(7);
  for (int channels : {1, 2, 3, 4}) {
    Bytes pixels(width * height * channels);
    for (auto& byte : pixels) byte = static_cast<uint8_t>(rng.uniform_int(0, 255));
    pixels[channels - 1] = channels % 2 == 0 ? 0 : pixels[channels - 1];  // a fully transparent first pixel
    const Image image = decode(stb_png(width, height, channels, pixels));
    ASSERT_EQ(image.rgb.size(), static_cast<size_t>(width * height * 3));
    for (int i = 0; i < width * height; ++i) {
      const uint8_t* in = &pixels[i * channels];
      const bool has_alpha = channels == 2 || channels == 4;
      const int alpha = has_alpha ? in[channels - 1] : 255;
      for (int c = 0; c < 3; ++c) {
        const int value = channels <= 2 ? in[0] : in[c];
        const int expected = (value * alpha + 255 * (255 - alpha) + 127) / 255;
        EXPECT_EQ(image.rgb[i * 3 + c], expected) << "channels " << channels << " pixel " << i << " channel " << c;
      }
    }
    if (channels == 2 || channels == 4) EXPECT_EQ(image.rgb[0], 255) << "transparent is white";
  }
}

TEST(ImageDecode, SixteenBitPngKeepsTheHighByte) {
  const int width = 4, height = 3;
  auto sample = [](int x, int y, int s) {
    return static_cast<uint32_t>((x * 9000 + y * 17000 + s * 5000 + 123) % 65536);
  };
  for (int interlace : {0, 1}) {
    const Bytes png =
        png_from_chunks({ihdr(width, height, 16, 2, interlace),
                         png_chunk("IDAT", zlib_compress(scanlines(width, height, 3, 16, interlace, sample)))});
    const Image image = decode(png);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < 3; ++c) EXPECT_EQ(image.pixel(x, y)[c], sample(x, y, c) >> 8);
  }
}

// The inflate bound computes the exact scanline size for every depth and for Adam7; a mistake there would
// refuse valid files, so sizes with empty passes and sub-byte depths are all tried.
TEST(ImageDecode, InterlacedAndLowBitDepthPngsDecode) {
  for (auto [width, height] : {std::pair{1, 1}, {3, 5}, {13, 9}, {8, 8}, {17, 2}}) {
    for (int interlace : {0, 1}) {
      auto rgb = [](int x, int y, int s) { return static_cast<uint32_t>((x * 31 + y * 57 + s * 80) % 256); };
      Bytes png = png_from_chunks({ihdr(width, height, 8, 2, interlace),
                                   png_chunk("IDAT", zlib_compress(scanlines(width, height, 3, 8, interlace, rgb)))});
      Image image = decode(png);
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
          for (int c = 0; c < 3; ++c) ASSERT_EQ(image.pixel(x, y)[c], rgb(x, y, c)) << width << "x" << height;

      for (int depth : {1, 2, 4}) {
        const uint32_t max = (1u << depth) - 1;
        auto grey = [&](int x, int y, int) { return static_cast<uint32_t>((x + 2 * y) % (max + 1)); };
        png = png_from_chunks({ihdr(width, height, depth, 0, interlace),
                               png_chunk("IDAT", zlib_compress(scanlines(width, height, 1, depth, interlace, grey)))});
        image = decode(png);
        for (int y = 0; y < height; ++y)
          for (int x = 0; x < width; ++x)
            ASSERT_EQ(image.pixel(x, y)[0], grey(x, y, 0) * 255 / max) << "depth " << depth;
      }
    }
  }
}

TEST(ImageDecode, PalettePngWithTransparency) {
  const Bytes palette = {255, 0, 0, 0, 255, 0, 0, 0, 255};  // red, green, blue
  const Bytes transparency = {255, 0};                      // green is transparent, blue opaque (implicit)
  auto index = [](int x, int y, int) { return static_cast<uint32_t>((x + y) % 3); };
  const Bytes png = png_from_chunks({ihdr(6, 4, 4, 3, 0), png_chunk("PLTE", palette), png_chunk("tRNS", transparency),
                                     png_chunk("IDAT", zlib_compress(scanlines(6, 4, 1, 4, false, index)))});
  const Image image = decode(png);
  const uint8_t expected[3][3] = {{255, 0, 0}, {255, 255, 255}, {0, 0, 255}};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(image.pixel(x, y)[c], expected[index(x, y, 0)][c]);
}

TEST(ImageDecode, JpegDecodesToApproximatelyTheImage) {
  const int width = 32, height = 24;
  for (int channels : {1, 3}) {
    Bytes pixels(width * height * channels);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < channels; ++c)
          pixels[(y * width + x) * channels + c] = static_cast<uint8_t>(x * 4 + y * 2 + c * 20);
    const Image image = decode(stb_jpg(width, height, channels, pixels, 95));
    ASSERT_EQ(image.width, width);
    ASSERT_EQ(image.height, height);
    int worst = 0;
    double total = 0;
    for (int i = 0; i < width * height; ++i) {
      for (int c = 0; c < 3; ++c) {
        const int diff = std::abs(image.rgb[i * 3 + c] - pixels[i * channels + (channels == 1 ? 0 : c)]);
        worst = std::max(worst, diff);
        total += diff;
      }
    }
    EXPECT_LE(worst, 16) << channels << " channels";
    EXPECT_LE(total / (width * height * 3), 3.0) << channels << " channels";
  }
}

// ---- Limits: checked from the header, before any pixel is decoded ------------------------------------------

// A PNG whose header claims a size but whose pixel data is a few bytes: without the limit check the decoder
// would try to allocate for the claimed size.
Bytes png_claiming(uint32_t width, uint32_t height) {
  return png_from_chunks({ihdr(width, height, 8, 2, 0), png_chunk("IDAT", zlib_compress(Bytes(16, 0)))});
}

TEST(ImageDecode, OversizedHeaderIsRefusedBeforeDecoding) {
  EXPECT_EQ(decode_error(png_claiming(100000, 100000)),
            "img: image is 100000x100000 pixels, over the limit of 8192 pixels per side");
  EXPECT_EQ(decode_error(png_claiming(8000, 8000)),
            "img: image is 8000x8000 = 64000000 pixels, over the limit of 16777216 pixels");
  EXPECT_EQ(decode_error(png_claiming(1u << 31, 1)),
            "img: corrupt PNG (IHDR size 2147483648x1 is over the PNG maximum)");

  // JPEG: the frame header's size is checked the same way.
  Bytes jpeg = stb_jpg(16, 16, 3, Bytes(16 * 16 * 3, 100), 90);
  const size_t sof = find_marker(jpeg, 0xC0);
  jpeg[sof + 5] = 0xC3, jpeg[sof + 6] = 0x50;  // height 50000
  jpeg[sof + 7] = 0xC3, jpeg[sof + 8] = 0x50;  // width 50000
  EXPECT_EQ(decode_error(jpeg), "img: image is 50000x50000 pixels, over the limit of 8192 pixels per side");
}

TEST(ImageDecode, LimitsAreConfigurable) {
  const Bytes png = encode_png(noise_image(64, 48, 1));
  ImageLimits small_side;
  small_side.max_side = 63;
  EXPECT_EQ(decode_error(png, small_side), "img: image is 64x48 pixels, over the limit of 63 pixels per side");
  ImageLimits few_pixels;
  few_pixels.max_pixels = 3000;
  EXPECT_EQ(decode_error(png, few_pixels), "img: image is 64x48 = 3072 pixels, over the limit of 3000 pixels");
  ImageLimits small_file;
  small_file.max_file_bytes = 100;
  EXPECT_EQ(decode_error(png, small_file),
            "img: image data is " + std::to_string(png.size()) + " bytes, over the limit of 100 bytes");
  EXPECT_NO_THROW(decode(png));
}

// A 64x64 PNG whose pixel data is ~40 KB of zlib that inflates to 4 MiB: the header is within limits,
// only bounding the inflated size catches it.
TEST(ImageDecode, ZlibBombIsRefused) {
  const Bytes compressed = zlib_compress(Bytes(4 << 20, 0));
  ASSERT_LT(compressed.size(), 64000u);
  const Bytes png = png_from_chunks({ihdr(64, 64, 8, 2, 0), png_chunk("IDAT", compressed)});
  EXPECT_EQ(decode_error(png),
            "img: corrupt PNG or decompression bomb (its pixel data inflates to more than the "
            "12352 bytes a 64x64 image needs)");
}

// ---- Bad input: every error names the input and says what is wrong -----------------------------------------

TEST(ImageDecode, BadInputGetsSpecificErrors) {
  EXPECT_EQ(decode_error({}), "img: empty image data (0 bytes)");
  EXPECT_EQ(decode_error(Bytes(kSignature.begin(), kSignature.begin() + 7)),
            "img: truncated PNG (7 bytes, shorter than its 8-byte signature)");
  EXPECT_EQ(decode_error({'a', 'b', 'c', 'd', 'e', 'f', 'g'}), "img: unsupported image format (expected PNG or JPEG)");
  EXPECT_EQ(decode_error({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0}),
            "img: unsupported image format (expected PNG or JPEG); the data looks like GIF");
  EXPECT_EQ(decode_error({'B', 'M', 60, 0, 0, 0, 0, 0, 0, 0}),
            "img: unsupported image format (expected PNG or JPEG); the data looks like BMP");
  EXPECT_EQ(decode_error({0xFF, 0xD8}), "img: truncated JPEG (2 bytes)");

  // Zero-size images.
  EXPECT_EQ(decode_error(png_claiming(0, 16)), "img: image has zero width or height (0x16)");
  const Bytes jpeg = stb_jpg(16, 16, 3, Bytes(16 * 16 * 3, 100), 90);
  const size_t sof = find_marker(jpeg, 0xC0);
  Bytes zero_jpeg = jpeg;
  zero_jpeg[sof + 5] = zero_jpeg[sof + 6] = 0;
  EXPECT_EQ(decode_error(zero_jpeg), "img: image has zero width or height (16x0)");

  // Broken PNG structure.
  const Bytes png = encode_png(noise_image(20, 10, 3));
  EXPECT_EQ(decode_error(Bytes(png.begin(), png.begin() + 8)), "img: truncated PNG (data ends before the IEND chunk)");
  EXPECT_EQ(decode_error(Bytes(png.begin(), png.begin() + 12)),
            "img: truncated PNG (chunk header at byte 8 is cut off)");
  EXPECT_EQ(decode_error(Bytes(png.begin(), png.end() - 12)), "img: truncated PNG (data ends before the IEND chunk)");
  const std::string cut = decode_error(Bytes(png.begin(), png.begin() + png.size() / 2));
  EXPECT_EQ(cut.rfind("img: truncated PNG (chunk 'IDAT' at byte 33 needs ", 0), 0u) << cut;
  Bytes flipped = png;
  flipped[50] ^= 0x10;
  EXPECT_EQ(decode_error(flipped), "img: corrupt PNG (CRC mismatch in chunk 'IDAT' at byte 33)");
  EXPECT_EQ(decode_error(png_from_chunks({})), "img: corrupt PNG (first chunk is 'IEND', not IHDR)");
  EXPECT_EQ(decode_error(png_from_chunks({png_chunk("CgBI", {0, 0, 0, 0}), ihdr(1, 1, 8, 2, 0)})),
            "img: unsupported PNG variant (Apple CgBI)");
  EXPECT_EQ(decode_error(png_from_chunks({ihdr(1, 1, 8, 2, 0)})),
            "img: corrupt PNG (no IDAT chunk: the image has no pixel data)");
  EXPECT_EQ(decode_error(png_from_chunks({ihdr(1, 1, 3, 2, 0)})),
            "img: corrupt PNG (IHDR bit depth 3 is not valid for colour type 2)");
  EXPECT_EQ(decode_error(png_from_chunks({ihdr(1, 1, 8, 5, 0)})),
            "img: corrupt PNG (IHDR colour type 5 is not 0, 2, 3, 4 or 6)");
  EXPECT_EQ(decode_error(png_from_chunks({ihdr(4, 4, 8, 2, 0), png_chunk("IDAT", zlib_compress(Bytes(20, 0)))})),
            "img: truncated PNG pixel data (inflates to 20 bytes, a 4x4 image needs 52)");
  const std::string bad_zlib = decode_error(png_from_chunks({ihdr(4, 4, 8, 2, 0), png_chunk("IDAT", {1, 2, 3, 4})}));
  EXPECT_EQ(bad_zlib.rfind("img: corrupt PNG (compressed pixel data: stb_image: ", 0), 0u) << bad_zlib;

  // Broken JPEG structure.
  const Bytes noisy_jpeg = stb_jpg(16, 16, 3, noise_image(16, 16, 8).rgb, 90);
  EXPECT_EQ(decode_error(Bytes(noisy_jpeg.begin(), noisy_jpeg.end() - 10)),  // cut inside the entropy-coded data
            "img: truncated JPEG (data ends before the end-of-image marker)");
  EXPECT_EQ(decode_error(Bytes(jpeg.begin(), jpeg.end() - 2)),
            "img: truncated JPEG (data ends before the end-of-image marker)");
  EXPECT_EQ(decode_error({0xFF, 0xD8, 0xFF, 0xD9}),
            "img: corrupt JPEG (no frame header before the end-of-image marker)");
  const std::string cut_segment = decode_error(Bytes(jpeg.begin(), jpeg.begin() + 30));
  EXPECT_EQ(cut_segment.rfind("img: truncated JPEG (segment at byte ", 0), 0u) << cut_segment;
  // Thousands of tiny scans would each cost a pass over the image.
  Bytes many_scans(jpeg.begin(), jpeg.end() - 2);
  for (int i = 0; i < 600; ++i)
    many_scans.insert(many_scans.end(), {0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x00});
  many_scans.insert(many_scans.end(), {0xFF, 0xD9});
  EXPECT_EQ(decode_error(many_scans), "img: JPEG has more than 500 scans (refused as a decoding-time bomb)");
}

// Tables stb would trust: too many Huffman codes overflow its arrays, undefined tables are uninitialised
// memory.
TEST(ImageDecode, JpegTablesAreChecked) {
  const Bytes jpeg = stb_jpg(16, 16, 3, noise_image(16, 16, 5).rgb, 90);
  const size_t dht = find_marker(jpeg, 0xC4), sos = find_marker(jpeg, 0xDA), sof = find_marker(jpeg, 0xC0);
  const std::string at_dht = std::to_string(dht), at_sos = std::to_string(sos);

  Bytes many_codes = jpeg;
  std::fill_n(&many_codes[dht + 5], 16, 20);  // 16 code lengths x 20 codes
  EXPECT_EQ(decode_error(many_codes),
            "img: corrupt JPEG (Huffman table at byte " + at_dht + " defines 320 codes, more than 256)");

  Bytes bad_class = jpeg;
  bad_class[dht + 4] = 0x24;
  EXPECT_EQ(decode_error(bad_class), "img: corrupt JPEG (Huffman table at byte " + at_dht + " has class 2 and id 4)");

  Bytes undefined_dc = jpeg;
  undefined_dc[sos + 6] = 0x20;  // first scan component: DC table 2, AC table 0
  EXPECT_EQ(decode_error(undefined_dc),
            "img: corrupt JPEG (DC Huffman table 2 in the scan at byte " + at_sos + " is used but never defined)");
  Bytes undefined_ac = jpeg;
  undefined_ac[sos + 6] = 0x03;
  EXPECT_EQ(decode_error(undefined_ac),
            "img: corrupt JPEG (AC Huffman table 3 in the scan at byte " + at_sos + " is used but never defined)");

  Bytes undefined_quantisation = jpeg;
  undefined_quantisation[sof + 12] = 3;  // first frame component: quantisation table 3
  EXPECT_EQ(decode_error(undefined_quantisation),
            "img: corrupt JPEG (quantisation table 3 in the scan at byte " + at_sos + " is used but never defined)");

  Bytes scan_first = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0xFF, 0xD9};
  EXPECT_EQ(decode_error(scan_first), "img: corrupt JPEG (scan at byte 2 comes before the frame header)");
}

// Bytes after the end marker are ignored, as every viewer ignores them.
TEST(ImageDecode, TrailingBytesAreIgnored) {
  const Image image = noise_image(9, 4, 11);
  Bytes png = encode_png(image);
  png.insert(png.end(), {1, 2, 3, 4, 5});
  EXPECT_EQ(decode(png).rgb, image.rgb);
  Bytes jpeg = stb_jpg(9, 4, 3, image.rgb, 90);
  jpeg.insert(jpeg.end(), {0, 0, 0});
  EXPECT_EQ(decode(jpeg).width, 9);
}

// ---- Files ----------------------------------------------------------------------------------------------

class ImageFile : public ::testing::Test {
 protected:
  std::string path(const std::string& name) {
    const std::string p = ::testing::TempDir() + "muse_image_test_" + std::to_string(::getpid()) + "_" + name;
    paths_.push_back(p);
    return p;
  }
  void TearDown() override {
    for (const auto& p : paths_) std::remove(p.c_str());  // files and empty directories
  }

 private:
  std::vector<std::string> paths_;
};

TEST_F(ImageFile, SaveThenLoadIsLossless) {
  const Image image = noise_image(31, 17, 5);
  const std::string file = path("a.png");
  save_png(image, file);
  const Image back = load_image(file);
  EXPECT_EQ(back.width, 31);
  EXPECT_EQ(back.rgb, image.rgb);
  save_png(make_image(2, 2, 1, 2, 3), file);  // replaces atomically
  EXPECT_EQ(load_image(file).rgb, make_image(2, 2, 1, 2, 3).rgb);
}

TEST_F(ImageFile, ErrorsNameThePath) {
  const std::string missing = path("missing.png");
  EXPECT_EQ(error_of([&] { load_image(missing); }), missing + ": cannot open file (No such file or directory)");
  EXPECT_EQ(error_kind_of([&] { load_image(missing); }), "not_found");

  const std::string big = path("big.png");
  std::ofstream(big, std::ios::binary) << std::string(1000, 'x');
  ImageLimits limits;
  limits.max_file_bytes = 100;
  EXPECT_EQ(error_of([&] { load_image(big, limits); }),
            big + ": file is 1000 bytes, over the image limit of 100 bytes");
  EXPECT_EQ(error_of([&] { load_image(big); }), big + ": unsupported image format (expected PNG or JPEG)");

  const std::string empty = path("empty.png");
  std::ofstream(empty, std::ios::binary).flush();
  EXPECT_EQ(error_of([&] { load_image(empty); }), empty + ": empty file (0 bytes)");

  const std::string directory = path("dir");
  ASSERT_EQ(::mkdir(directory.c_str(), 0755), 0);
  EXPECT_EQ(error_of([&] { load_image(directory); }), directory + ": is a directory, not an image");

  const std::string nowhere = path("no-such-dir") + "/x.png";
  EXPECT_EQ(error_of([&] { save_png(make_image(1, 1), nowhere); }).rfind(nowhere + ": cannot write", 0), 0u);
  Image broken = make_image(2, 2);
  broken.rgb.pop_back();
  EXPECT_EQ(error_of([&] { save_png(broken, nowhere); }),
            nowhere + ": encode_png: invalid image (2x2 with 11 bytes of pixels)");
}

// ---- Pixel operations -----------------------------------------------------------------------------------

TEST(ImageMake, FillsAndChecksSize) {
  const Image image = make_image(3, 2, 10, 20, 30);
  ASSERT_EQ(image.rgb.size(), 18u);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ((std::vector<int>{image.rgb[i * 3], image.rgb[i * 3 + 1], image.rgb[i * 3 + 2]}),
              (std::vector<int>{10, 20, 30}));
  EXPECT_EQ(error_of([] { make_image(0, 5); }), "make_image: size 0x5 is not at least 1x1");
}

// An image with one row (height 1) of grey values.
Image grey_row(const std::vector<int>& values) {
  Image image = make_image(static_cast<int>(values.size()), 1);
  for (size_t i = 0; i < values.size(); ++i)
    std::fill_n(image.pixel(static_cast<int>(i), 0), 3, static_cast<uint8_t>(values[i]));
  return image;
}

std::vector<int> grey_values(const Image& image) {
  std::vector<int> out;
  for (size_t i = 0; i < image.rgb.size(); i += 3) out.push_back(image.rgb[i]);
  return out;
}

TEST(ImageResize, ShrinkingAveragesAreas) {
  EXPECT_EQ(grey_values(resize_image(grey_row({0, 100, 200, 40}), 2, 1)), (std::vector<int>{50, 120}));
  // 3 -> 2: output 0 covers input 0 fully and half of input 1.
  EXPECT_EQ(grey_values(resize_image(grey_row({0, 90, 240}), 2, 1)), (std::vector<int>{30, 190}));
  // A one-pixel checkerboard halves to flat grey: every input pixel counts, none is skipped.
  Image checker = make_image(8, 8);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) std::fill_n(checker.pixel(x, y), 3, (x + y) % 2 ? 255 : 0);
  for (uint8_t byte : resize_image(checker, 4, 4).rgb) EXPECT_EQ(byte, 128);
  // A thin dark line survives a 4x shrink as a visible grey row instead of vanishing.
  Image line = make_image(16, 16);
  for (int x = 0; x < 16; ++x) std::fill_n(line.pixel(x, 5), 3, 0);
  const Image small = resize_image(line, 4, 4);
  EXPECT_EQ(small.pixel(0, 1)[0], 191);
  EXPECT_EQ(small.pixel(0, 0)[0], 255);
}

TEST(ImageResize, FlatColourStaysFlatAtAnySize) {
  const Image flat = make_image(37, 23, 200, 17, 255);
  for (auto [width, height] : {std::pair{1, 1}, {5, 3}, {36, 22}, {37, 23}, {100, 7}, {3, 90}}) {
    const Image out = resize_image(flat, width, height);
    ASSERT_EQ(out.rgb.size(), static_cast<size_t>(width * height * 3));
    for (int i = 0; i < width * height; ++i) {
      ASSERT_EQ(out.rgb[i * 3], 200);
      ASSERT_EQ(out.rgb[i * 3 + 1], 17);
      ASSERT_EQ(out.rgb[i * 3 + 2], 255);
    }
  }
}

TEST(ImageResize, GrowingIsBilinear) {
  EXPECT_EQ(grey_values(resize_image(grey_row({0, 255}), 4, 1)), (std::vector<int>{0, 64, 191, 255}));
  EXPECT_EQ(grey_values(resize_image(grey_row({10}), 3, 1)), (std::vector<int>{10, 10, 10}));
  // Mixed: shrink one axis, grow the other.
  const Image mixed = resize_image(grey_row({0, 100, 200, 40}), 2, 3);
  EXPECT_EQ(grey_values(mixed), (std::vector<int>{50, 120, 50, 120, 50, 120}));
}

TEST(ImageResize, SameSizeIsIdentityAndBadSizesThrow) {
  const Image image = noise_image(13, 7, 9);
  EXPECT_EQ(resize_image(image, 13, 7).rgb, image.rgb);
  EXPECT_EQ(error_of([&] { resize_image(image, 0, 7); }), "resize_image: target size 0x7 is not at least 1x1");
  Image broken = image;
  broken.width = 14;
  EXPECT_EQ(error_of([&] { resize_image(broken, 2, 2); }),
            "resize_image: invalid image (14x7 with 273 bytes of pixels)");
}

TEST(ImageCrop, CopiesTheBoxAndClamps) {
  const Image image = noise_image(10, 6, 4);
  const Image crop = crop_image(image, 2, 1, 5, 4);
  ASSERT_EQ(crop.width, 3);
  ASSERT_EQ(crop.height, 3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(crop.pixel(x, y)[c], image.pixel(x + 2, y + 1)[c]);
  const Image clamped = crop_image(image, -5, -5, 100, 3);
  EXPECT_EQ(clamped.width, 10);
  EXPECT_EQ(clamped.height, 3);
  EXPECT_EQ(clamped.rgb, Bytes(image.rgb.begin(), image.rgb.begin() + 10 * 3 * 3));
  EXPECT_EQ(error_of([&] { crop_image(image, 3, 0, 3, 6); }),
            "crop_image: box [3, 3) x [0, 6) is empty inside the 10x6 image");
  EXPECT_EQ(error_of([&] { crop_image(image, 20, 0, 30, 6); }),
            "crop_image: box [20, 30) x [0, 6) is empty inside the 10x6 image");
}

// ---- Fuzzing: mutated files either decode to a valid image or fail with a MuseError naming the input --------

const uint32_t kInteresting[] = {0, 1, 2, 7, 8, 255, 256, 8192, 8193, 65535, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF};

// One blind mutation: byte flips, a truncation, an insertion, a deletion, an interesting 32-bit value (for
// lengths and sizes) or a duplicated slice.
void mutate_bytes(Rng& rng, Bytes& bytes) {
  if (bytes.empty()) {
    bytes.push_back(static_cast<uint8_t>(rng.uniform_int(0, 255)));
    return;
  }
  const auto position = [&] { return static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(bytes.size()) - 1)); };
  const auto at = [&](size_t i) { return bytes.begin() + static_cast<std::ptrdiff_t>(i); };
  switch (rng.uniform_int(0, 5)) {
    case 0:
      for (int64_t i = rng.uniform_int(1, 8); i > 0; --i)
        bytes[position()] ^= static_cast<uint8_t>(rng.uniform_int(1, 255));
      break;
    case 1:
      bytes.resize(position());
      break;
    case 2: {
      Bytes extra(static_cast<size_t>(rng.uniform_int(1, 16)));
      for (auto& byte : extra) byte = static_cast<uint8_t>(rng.uniform_int(0, 255));
      bytes.insert(at(position()), extra.begin(), extra.end());
      break;
    }
    case 3: {
      const size_t from = position();
      bytes.erase(at(from), at(std::min(bytes.size(), from + static_cast<size_t>(rng.uniform_int(1, 16)))));
      break;
    }
    case 4: {
      if (bytes.size() < 4) break;
      const size_t from = static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(bytes.size()) - 4));
      set_be32(&bytes[from], kInteresting[rng.uniform_int(0, std::size(kInteresting) - 1)]);
      break;
    }
    case 5: {
      const size_t from = position();
      const Bytes slice(at(from), at(std::min(bytes.size(), from + static_cast<size_t>(rng.uniform_int(1, 64)))));
      bytes.insert(at(position()), slice.begin(), slice.end());
      break;
    }
  }
}

// Recomputes every chunk CRC that still lies inside the data, so a mutation reaches the decoder instead of
// being stopped by the CRC check.
void fix_png_crcs(Bytes& png) {
  size_t pos = 8;
  while (png.size() >= 12 && pos <= png.size() - 12) {
    const uint32_t length = get_be32(&png[pos]);
    if (length > png.size() - pos - 12) break;
    set_be32(&png[pos + 8 + length], crc32(&png[pos + 4], length + 4));
    pos += 12 + length;
  }
}

// The chunks of a well-formed PNG as (type, payload), or nothing when the structure is already broken.
std::vector<std::pair<std::string, Bytes>> png_chunks(const Bytes& png) {
  std::vector<std::pair<std::string, Bytes>> chunks;
  size_t pos = 8;
  while (png.size() >= 12 && pos <= png.size() - 12) {
    const uint32_t length = get_be32(&png[pos]);
    if (length > png.size() - pos - 12) return {};
    chunks.emplace_back(std::string(png.begin() + pos + 4, png.begin() + pos + 8),
                        Bytes(png.begin() + pos + 8, png.begin() + pos + 8 + length));
    pos += 12 + length;
  }
  return pos == png.size() ? chunks : std::vector<std::pair<std::string, Bytes>>{};
}

void mutate_png(Rng& rng, Bytes& png) {
  const double kind = rng.uniform();
  if (kind < 0.4) {
    // Inside one chunk's payload (mostly IDAT), rebuilt with valid lengths and CRCs: the damage reaches
    // the inflater, the filters and the palette code.
    auto chunks = png_chunks(png);
    if (!chunks.empty()) {
      size_t target = static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(chunks.size()) - 1));
      for (size_t i = 0; i < chunks.size(); ++i) {
        if (chunks[i].first == "IDAT" && rng.bernoulli(0.7)) target = i;
      }
      mutate_bytes(rng, chunks[target].second);
      png = kSignature;
      for (const auto& [type, payload] : chunks) {
        const Bytes chunk = png_chunk(type.c_str(), payload);
        png.insert(png.end(), chunk.begin(), chunk.end());
      }
      return;
    }
  }
  if (kind < 0.6 && png.size() >= 29) {
    // An IHDR field: width, height, bit depth, colour type, compression, filter, interlace.
    const int field = static_cast<int>(rng.uniform_int(0, 6));
    const uint32_t value = kInteresting[rng.uniform_int(0, std::size(kInteresting) - 1)];
    if (field < 2) {
      set_be32(&png[16 + 4 * field], value);
    } else {
      png[24 + field - 2] = static_cast<uint8_t>(rng.bernoulli(0.5) ? value : rng.uniform_int(0, 16));
    }
    fix_png_crcs(png);
    return;
  }
  mutate_bytes(rng, png);
  if (rng.bernoulli(0.8)) fix_png_crcs(png);
}

void mutate_jpeg(Rng& rng, Bytes& jpeg) {
  if (rng.bernoulli(0.25)) {
    // A frame header byte: precision, size, component count, sampling factors, quantisation table ids.
    size_t sof = 2;
    while (sof + 18 < jpeg.size() && !(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0)) ++sof;  // may be mutated away
    if (sof + 18 < jpeg.size()) {
      jpeg[sof + 4 + static_cast<size_t>(rng.uniform_int(0, 14))] = static_cast<uint8_t>(rng.uniform_int(0, 255));
      return;
    }
  }
  mutate_bytes(rng, jpeg);
}

struct FuzzOutcome {
  int decoded = 0;
  int rejected = 0;
};

FuzzOutcome fuzz(const std::vector<Bytes>& seeds, bool png, int iterations, uint64_t seed) {
  Rng rng(seed);
  FuzzOutcome outcome;
  const ImageLimits limits;
  for (int i = 0; i < iterations; ++i) {
    Bytes bytes = seeds[static_cast<size_t>(i) % seeds.size()];
    for (int64_t m = rng.uniform_int(1, 3); m > 0; --m) png ? mutate_png(rng, bytes) : mutate_jpeg(rng, bytes);
    const std::string name = (png ? "fuzz.png#" : "fuzz.jpg#") + std::to_string(i);
    try {
      const Image image = decode_image(bytes.data(), bytes.size(), name, limits);
      const bool valid = image.width >= 1 && image.height >= 1 && image.width <= limits.max_side &&
                         image.height <= limits.max_side && int64_t{image.width} * image.height <= limits.max_pixels &&
                         image.rgb.size() == static_cast<size_t>(image.width) * image.height * 3;
      EXPECT_TRUE(valid) << name << " decoded to an invalid " << image.width << "x" << image.height << " image";
      ++outcome.decoded;
    } catch (const MuseError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(name + ": ", 0), 0u) << message;
      EXPECT_GT(message.size(), name.size() + 2) << name;
      ++outcome.rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << " threw something other than MuseError: " << e.what();
    }
  }
  return outcome;
}

TEST(ImageFuzz, MutatedPngsDecodeOrFailCleanly) {
  Rng rng(3);
  Bytes grey_alpha(9 * 7 * 2);
  for (auto& byte : grey_alpha) byte = static_cast<uint8_t>(rng.uniform_int(0, 255));
  auto rgba16 = [](int x, int y, int s) { return static_cast<uint32_t>((x * 7919 + y * 104729 + s * 31337) % 65536); };
  auto rgb = [](int x, int y, int s) { return static_cast<uint32_t>((x * 3 + y * 5 + s * 70) % 256); };
  auto index = [](int x, int y, int) { return static_cast<uint32_t>((x * y) % 3); };
  const std::vector<Bytes> seeds = {
      encode_png(noise_image(24, 16, 1)),
      stb_png(9, 7, 2, grey_alpha),
      png_from_chunks({ihdr(13, 9, 8, 2, 1), png_chunk("IDAT", zlib_compress(scanlines(13, 9, 3, 8, true, rgb)))}),
      png_from_chunks({ihdr(5, 4, 16, 6, 0), png_chunk("IDAT", zlib_compress(scanlines(5, 4, 4, 16, false, rgba16)))}),
      png_from_chunks({ihdr(10, 6, 2, 3, 0), png_chunk("PLTE", {255, 0, 0, 0, 255, 0, 0, 0, 255}),
                       png_chunk("tRNS", {128}),
                       png_chunk("IDAT", zlib_compress(scanlines(10, 6, 1, 2, false, index)))}),
  };
  for (const auto& seed : seeds) ASSERT_NO_THROW(decode(seed));
  const FuzzOutcome outcome = fuzz(seeds, true, 2000, 20240601);
  std::printf("PNG fuzz: %d decoded, %d rejected\n", outcome.decoded, outcome.rejected);
  EXPECT_GT(outcome.decoded, 0);
  EXPECT_GT(outcome.rejected, 0);
}

TEST(ImageFuzz, MutatedJpegsDecodeOrFailCleanly) {
  const Image colour = noise_image(24, 16, 2);
  Bytes gradient(17 * 11);
  for (size_t i = 0; i < gradient.size(); ++i) gradient[i] = static_cast<uint8_t>(i * 3);
  const std::vector<Bytes> seeds = {
      stb_jpg(24, 16, 3, colour.rgb, 90),   // 4:2:0 chroma subsampling
      stb_jpg(24, 16, 3, colour.rgb, 100),  // no subsampling
      stb_jpg(17, 11, 1, gradient, 50),     // grey
  };
  for (const auto& seed : seeds) ASSERT_NO_THROW(decode(seed));
  const FuzzOutcome outcome = fuzz(seeds, false, 2000, 20240602);
  std::printf("JPEG fuzz: %d decoded, %d rejected\n", outcome.decoded, outcome.rejected);
  EXPECT_GT(outcome.decoded, 0);
  EXPECT_GT(outcome.rejected, 0);
}

}  // namespace
}  // namespace muse
