// Images as Muse reads them: 8-bit RGB, decoded from PNG or JPEG by stb_image, with limits checked before
// any pixel is decoded (so a decompression bomb is refused from its header). Also the few pixel operations
// the rest of Muse needs: resize, crop and PNG encoding (for `muse data preview` and tests).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace muse {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel, size = width * height * 3

  uint8_t* pixel(int x, int y) { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
  const uint8_t* pixel(int x, int y) const { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
};

// A blank image filled with one colour. Throws MuseError on sizes < 1.
Image make_image(int width, int height, uint8_t r = 255, uint8_t g = 255, uint8_t b = 255);

struct ImageLimits {
  size_t max_file_bytes = 32u << 20;     // larger files are refused before reading
  int max_side = 8192;                   // width and height, each
  int64_t max_pixels = 16'777'216;       // width * height (4096 x 4096): refuses decompression bombs
};

// Decodes PNG or JPEG bytes (any channel count, converted to RGB; alpha is composited on white).
// `name` appears in errors: MuseError("NAME: ...") for empty, truncated, corrupt, unsupported, zero-size or
// over-limit images. The data is size-checked against max_file_bytes too.
Image decode_image(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits = {});
// Reads and decodes a file; errors name the path.
Image load_image(const std::string& path, const ImageLimits& limits = {});

// PNG bytes of an image (lossless), and writing them to a file atomically.
std::vector<uint8_t> encode_png(const Image& image);
void save_png(const Image& image, const std::string& path);

// Resized to width x height (area averaging when shrinking, bilinear when growing). Throws on sizes < 1.
Image resize_image(const Image& image, int width, int height);
// The pixels in [x0, x1) x [y0, y1), clamped to the image; throws MuseError if the clamped box is empty.
Image crop_image(const Image& image, int x0, int y0, int x1, int y1);

}  // namespace muse
