// zoom: the visual chain of thought. Crops a box of an attached image at its original resolution and returns
// the crop magnified to fill one view of the model's patch budget, so detail too small for the first view
// (a downscale of the whole picture) becomes legible. The session feeds the crop back as a new image segment.
//
// Arguments: {"bbox_2d": [x1, y1, x2, y2], "unit": "pixel" | "normalized" | "patch", "image": 0}
//   pixel       original-image pixels, [x1, x2) x [y1, y2) (DeepEyes' bbox_2d) — the default
//   normalized  fractions of the width and height, 0..1
//   patch       first-view patch cells, inclusive: columns x1..x2, rows y1..y2 (what Muse's traces name)
//   image       which attached image (0 = the first; default: the last one attached)
// A box partly outside the image is clamped (details.clamped); one wholly outside, of zero area, inverted, or
// with non-finite numbers is an InvalidInput error the model can read.
#pragma once
#include <array>

#include "tools/tool.h"

namespace muse {

// The pixel box [x0, x1) x [y0, y1) a zoom reads, and the view size the crop is magnified to.
struct ZoomGeometry {
  std::array<int, 4> box{};  // x0, y0, x1, y1 (clamped to the image)
  bool clamped = false;
  int view_width = 0, view_height = 0;
};

class Zoom : public Tool {
 public:
  std::string name() const override { return "zoom"; }
  std::string description() const override;
  nlohmann::json parameters() const override;
  ToolResult invoke(const nlohmann::json& arguments, const ToolContext& context) const override;
};

// The pixel box of a first-view patch-cell box (inclusive cells), as traces compute it. Throws nothing; the
// cells may lie outside the grid (the tool clamps).
std::array<double, 4> patch_cells_to_pixels(int image_width, int image_height, const VisionParams& vision,
                                            int col0, int row0, int col1, int row1);

// The crop of `image` in `box` (pixels, clamped) magnified to the largest view the patch budget allows.
Image zoom_view(const Image& image, const std::array<int, 4>& box, const VisionParams& vision,
                int* view_width = nullptr, int* view_height = nullptr);

}  // namespace muse
