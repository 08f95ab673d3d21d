// How an image becomes decoder input (Fuyu-style early fusion, no vision encoder): the image is downscaled
// (aspect kept) until its patch grid fits the budget, cut into patch_size x patch_size RGB patches in raster
// order, and each patch is flattened to patch_size * patch_size * 3 floats in [-1, 1] that one linear
// projection inside the model maps to an embedding.
#pragma once
#include <vector>

#include "data/image.h"

namespace muse {

struct VisionParams {
  int patch_size = 8;    // pixels per patch side
  int max_patches = 64;  // patch budget of one image view (rows * cols); larger images are downscaled
  int patch_dim() const { return patch_size * patch_size * 3; }
};

struct PatchGrid {
  int rows = 0;
  int cols = 0;
  int patch_dim = 0;
  int view_width = 0;   // pixel size of the (possibly downscaled) view that was cut into patches
  int view_height = 0;
  std::vector<float> pixels;  // rows * cols * patch_dim, patch-major in raster order; pixel (y, x, channel)
                              // inside a patch; value = byte / 127.5 - 1; area past the view's edge is 0
  const float* patch(int row, int col) const { return &pixels[(static_cast<size_t>(row) * cols + col) * patch_dim]; }
};

// The view size an image gets: itself if its patch grid fits, otherwise the largest aspect-preserving
// downscale whose ceil(w / p) * ceil(h / p) <= max_patches (never below 1 x 1 pixels). "Largest": the long
// side is the most pixels that fit; the short side is long * (short / long) rounded half up, at least 1.
// Throws MuseError on invalid params or a size below 1 x 1.
void view_size(int width, int height, const VisionParams& params, int* view_width, int* view_height);

// Patches of the image's view. Throws MuseError on invalid params (patch_size < 1, max_patches < 1).
PatchGrid patchify(const Image& image, const VisionParams& params);

}  // namespace muse
