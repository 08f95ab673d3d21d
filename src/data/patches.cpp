#include "data/patches.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "util/error.h"

namespace muse {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Patches a width x height view is cut into.
int64_t grid_cells(int64_t width, int64_t height, int patch_size) {
  return ceil_div(width, patch_size) * ceil_div(height, patch_size);
}

void check_params(const VisionParams& params) {
  if (params.patch_size < 1) {
    throw MuseError("vision params: patch_size must be at least 1 (got " + std::to_string(params.patch_size) + ")");
  }
  if (params.max_patches < 1) {
    throw MuseError("vision params: max_patches must be at least 1 (got " + std::to_string(params.max_patches) + ")");
  }
  // patch_dim() is an int.
  if (static_cast<int64_t>(params.patch_size) * params.patch_size * 3 > INT_MAX) {
    throw MuseError("vision params: patch_size " + std::to_string(params.patch_size) + " is too large");
  }
}

}  // namespace

void view_size(int width, int height, const VisionParams& params, int* view_width, int* view_height) {
  check_params(params);
  if (width < 1 || height < 1) {
    throw MuseError("view_size: image size " + std::to_string(width) + "x" + std::to_string(height) +
                    " is not at least 1x1");
  }
  const int p = params.patch_size;
  if (grid_cells(width, height, p) <= params.max_patches) {
    *view_width = width;
    *view_height = height;
    return;
  }
  // Downscales are parameterised by the long side; the short side follows it in proportion, rounded to
  // the nearest pixel (half up) and at least 1. Both grow with the long side and so does the patch count,
  // so a binary search finds the largest long side that fits. A long side of 1 is one patch: it always fits.
  const int64_t long_side = std::max(width, height);
  const int64_t short_side = std::min(width, height);
  const auto short_for = [&](int64_t l) { return std::max<int64_t>(1, (l * short_side + long_side / 2) / long_side); };
  int64_t lo = 1, hi = long_side - 1;  // the full size does not fit
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (grid_cells(mid, short_for(mid), p) <= params.max_patches) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  const int l = static_cast<int>(lo), s = static_cast<int>(short_for(lo));
  *view_width = width >= height ? l : s;
  *view_height = width >= height ? s : l;
}

PatchGrid patchify(const Image& image, const VisionParams& params) {
  check_params(params);
  if (image.width < 1 || image.height < 1 ||
      image.rgb.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3) {
    throw MuseError("patchify: invalid image (" + std::to_string(image.width) + "x" + std::to_string(image.height) +
                    " with " + std::to_string(image.rgb.size()) + " bytes of pixels)");
  }
  PatchGrid grid;
  view_size(image.width, image.height, params, &grid.view_width, &grid.view_height);
  Image resized;
  const bool downscaled = grid.view_width != image.width || grid.view_height != image.height;
  if (downscaled) resized = resize_image(image, grid.view_width, grid.view_height);
  const Image& view = downscaled ? resized : image;

  const int p = params.patch_size;
  grid.rows = static_cast<int>(ceil_div(grid.view_height, p));
  grid.cols = static_cast<int>(ceil_div(grid.view_width, p));
  grid.patch_dim = params.patch_dim();
  // Zero-filled, so the part of the last row and column of patches past the view's edge stays 0.
  grid.pixels.assign(static_cast<size_t>(grid.rows) * grid.cols * grid.patch_dim, 0.0f);
  for (int y = 0; y < view.height; ++y) {
    for (int x = 0; x < view.width; ++x) {
      const size_t patch = static_cast<size_t>(y / p) * grid.cols + x / p;
      const size_t inside = (static_cast<size_t>(y % p) * p + x % p) * 3;
      float* out = &grid.pixels[patch * grid.patch_dim + inside];
      const uint8_t* in = view.pixel(x, y);
      for (int c = 0; c < 3; ++c) out[c] = in[c] / 127.5f - 1.0f;
    }
  }
  return grid;
}

}  // namespace muse
