#include "data/patches.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "util/error.h"
#include "util/rng.h"

namespace muse {
namespace {

int64_t cells(int64_t width, int64_t height, int patch) {
  return ((width + patch - 1) / patch) * ((height + patch - 1) / patch);
}

std::pair<int, int> view_of(int width, int height, int patch, int max_patches) {
  VisionParams params;
  params.patch_size = patch;
  params.max_patches = max_patches;
  int view_width = 0, view_height = 0;
  view_size(width, height, params, &view_width, &view_height);
  return {view_width, view_height};
}

// The documented rule, restated: the short side for a long side of `l` pixels.
int64_t short_side_for(int64_t l, int64_t long_side, int64_t short_side) {
  return std::max<int64_t>(1, (2 * l * short_side + long_side) / (2 * long_side));
}

// Checks that the view of a width x height image fits the budget, keeps the aspect ratio, and is maximal:
// either the image itself, or one pixel more on the long side would not fit.
void expect_valid_view(int width, int height, int patch, int max_patches) {
  const auto [view_width, view_height] = view_of(width, height, patch, max_patches);
  const std::string where = std::to_string(width) + "x" + std::to_string(height) + " patch " + std::to_string(patch) +
                            " max " + std::to_string(max_patches) + " -> " + std::to_string(view_width) + "x" +
                            std::to_string(view_height);
  ASSERT_GE(view_width, 1) << where;
  ASSERT_GE(view_height, 1) << where;
  ASSERT_LE(view_width, width) << where;
  ASSERT_LE(view_height, height) << where;
  ASSERT_LE(cells(view_width, view_height, patch), max_patches) << where;
  if (view_width == width && view_height == height) return;
  ASSERT_GT(cells(width, height, patch), max_patches) << where << ": the original fits, so it must not be downscaled";
  const bool wide = width >= height;
  const int64_t long_side = wide ? width : height, short_side = wide ? height : width;
  const int64_t view_long = wide ? view_width : view_height, view_short = wide ? view_height : view_width;
  ASSERT_EQ(view_short, short_side_for(view_long, long_side, short_side)) << where << ": aspect ratio";
  ASSERT_LT(view_long, long_side) << where;
  ASSERT_GT(cells(view_long + 1, short_side_for(view_long + 1, long_side, short_side), patch), max_patches)
      << where << ": one pixel bigger still fits, so the view is not maximal";
}

TEST(PatchView, FitsTheBudgetAndIsMaximal) {
  for (auto [width, height] :
       {std::pair{1, 1}, {1, 10000}, {10000, 1}, {8192, 8192}, {8192, 1}, {65, 64}, {64, 64}, {3000, 2000}, {7, 100}}) {
    for (auto [patch, max_patches] : {std::pair{8, 64}, {1, 1}, {14, 256}, {16, 1}, {32, 7}, {1, 10000}}) {
      expect_valid_view(width, height, patch, max_patches);
    }
  }
  Rng rng(42);
  for (int i = 0; i < 3000; ++i) {
    // Log-uniform sizes, so small and huge images are both common.
    const int width = static_cast<int>(std::exp(rng.uniform() * std::log(20000.0)));
    const int height = static_cast<int>(std::exp(rng.uniform() * std::log(20000.0)));
    const int patch = static_cast<int>(rng.uniform_int(1, 32));
    const int max_patches = static_cast<int>(rng.uniform_int(1, 1024));
    expect_valid_view(std::max(width, 1), std::max(height, 1), patch, max_patches);
  }
}

TEST(PatchView, KnownSizes) {
  EXPECT_EQ(view_of(64, 64, 8, 64), std::make_pair(64, 64));
  EXPECT_EQ(view_of(65, 64, 8, 64), std::make_pair(64, 63));
  EXPECT_EQ(view_of(1, 10000, 8, 64), std::make_pair(1, 512));
  EXPECT_EQ(view_of(10000, 1, 8, 64), std::make_pair(512, 1));
  EXPECT_EQ(view_of(1, 1, 8, 1), std::make_pair(1, 1));
  EXPECT_EQ(view_of(1000, 1000, 10, 1), std::make_pair(10, 10));
}

TEST(PatchView, RejectsInvalidInput) {
  const auto error_of = [](int width, int height, int patch, int max_patches) -> std::string {
    try {
      view_of(width, height, patch, max_patches);
    } catch (const MuseError& e) {
      return e.what();
    }
    return "<no error>";
  };
  EXPECT_EQ(error_of(10, 10, 0, 64), "vision params: patch_size must be at least 1 (got 0)");
  EXPECT_EQ(error_of(10, 10, 8, 0), "vision params: max_patches must be at least 1 (got 0)");
  EXPECT_EQ(error_of(0, 10, 8, 64), "view_size: image size 0x10 is not at least 1x1");
  EXPECT_EQ(error_of(10, 10, 1 << 20, 64), "vision params: patch_size 1048576 is too large");
}

float value_of(uint8_t byte) { return byte / 127.5f - 1.0f; }

// Known pixels: red = 10x + y, green = 100 + x, blue = 200 + y.
Image known_image(int width, int height) {
  Image image = make_image(width, height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* pixel = image.pixel(x, y);
      pixel[0] = static_cast<uint8_t>(10 * x + y);
      pixel[1] = static_cast<uint8_t>(100 + x);
      pixel[2] = static_cast<uint8_t>(200 + y);
    }
  }
  return image;
}

TEST(Patchify, LayoutValuesAndPadding) {
  // 3x3 pixels, 2x2 patches, budget 4: a 2x2 grid whose last row and column are half padding.
  VisionParams params;
  params.patch_size = 2;
  params.max_patches = 4;
  const Image image = known_image(3, 3);
  const PatchGrid grid = patchify(image, params);
  ASSERT_EQ(grid.rows, 2);
  ASSERT_EQ(grid.cols, 2);
  ASSERT_EQ(grid.patch_dim, 12);
  EXPECT_EQ(grid.view_width, 3);
  EXPECT_EQ(grid.view_height, 3);
  ASSERT_EQ(grid.pixels.size(), 4u * 12);
  for (int row = 0; row < 2; ++row) {
    for (int col = 0; col < 2; ++col) {
      const float* patch = grid.patch(row, col);
      EXPECT_EQ(patch, &grid.pixels[(row * 2 + col) * 12]) << "patches are raster order";
      for (int y = 0; y < 2; ++y) {
        for (int x = 0; x < 2; ++x) {
          const int image_x = col * 2 + x, image_y = row * 2 + y;
          for (int c = 0; c < 3; ++c) {
            const float value = patch[(y * 2 + x) * 3 + c];
            if (image_x < 3 && image_y < 3) {
              EXPECT_FLOAT_EQ(value, value_of(image.pixel(image_x, image_y)[c])) << row << col << y << x << c;
            } else {
              EXPECT_EQ(value, 0.0f) << "padding at patch " << row << "," << col << " pixel " << y << "," << x;
            }
          }
        }
      }
    }
  }
  // Spot checks against hand-computed values: patch (0, 1) starts at pixel (2, 0) = (20, 102, 200).
  EXPECT_FLOAT_EQ(grid.patch(0, 1)[0], 20 / 127.5f - 1.0f);
  EXPECT_FLOAT_EQ(grid.patch(0, 1)[1], 102 / 127.5f - 1.0f);
  EXPECT_FLOAT_EQ(grid.patch(0, 1)[2], 200 / 127.5f - 1.0f);
  // Pixel (1, 1) of patch (0, 0) is image pixel (1, 1) = (11, 101, 201).
  EXPECT_FLOAT_EQ(grid.patch(0, 0)[9], 11 / 127.5f - 1.0f);
  // Value range ends: byte 0 -> -1, byte 255 -> 1.
  EXPECT_FLOAT_EQ(value_of(0), -1.0f);
  EXPECT_FLOAT_EQ(value_of(255), 1.0f);
}

TEST(Patchify, SixtyFourSquareIsAnEightByEightGridWithoutDownscaling) {
  const Image image = known_image(64, 64);
  const PatchGrid grid = patchify(image, VisionParams{});
  EXPECT_EQ(grid.rows, 8);
  EXPECT_EQ(grid.cols, 8);
  EXPECT_EQ(grid.patch_dim, 192);
  EXPECT_EQ(grid.view_width, 64);
  EXPECT_EQ(grid.view_height, 64);
  ASSERT_EQ(grid.pixels.size(), 64u * 192);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(grid.patch(y / 8, x / 8)[((y % 8) * 8 + x % 8) * 3 + c], value_of(image.pixel(x, y)[c]))
            << x << "," << y;
}

TEST(Patchify, LargeImagesAreDownscaledToTheView) {
  const Image image = known_image(200, 100);
  VisionParams params;
  const PatchGrid grid = patchify(image, params);
  const auto [view_width, view_height] = view_of(200, 100, params.patch_size, params.max_patches);
  EXPECT_EQ(grid.view_width, view_width);
  EXPECT_EQ(grid.view_height, view_height);
  EXPECT_LE(grid.rows * grid.cols, params.max_patches);
  EXPECT_LT(view_width, 200);
  // The pixels are those of the resized view.
  const Image view = resize_image(image, view_width, view_height);
  for (int y = 0; y < view_height; ++y)
    for (int x = 0; x < view_width; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(grid.patch(y / 8, x / 8)[((y % 8) * 8 + x % 8) * 3 + c], value_of(view.pixel(x, y)[c]));
}

TEST(Patchify, RejectsInvalidParamsAndImages) {
  VisionParams params;
  params.patch_size = 0;
  EXPECT_THROW(patchify(make_image(4, 4), params), MuseError);
  params = VisionParams{};
  params.max_patches = -1;
  EXPECT_THROW(patchify(make_image(4, 4), params), MuseError);
  Image broken = make_image(4, 4);
  broken.rgb.resize(5);
  EXPECT_THROW(patchify(broken, VisionParams{}), MuseError);
}

}  // namespace
}  // namespace muse
