#include "tools/zoom.h"

#include <algorithm>
#include <cmath>

namespace muse {

std::string Zoom::description() const {
  return "Look closer: crop a box of an attached image at full resolution and see it magnified.";
}

nlohmann::json Zoom::parameters() const {
  return {{"type", "object"},
          {"properties",
           {{"bbox_2d",
             {{"type", "array"},
              {"items", {{"type", "number"}}},
              {"minItems", 4},
              {"maxItems", 4},
              {"description", "[x1, y1, x2, y2] in the unit below"}}},
            {"unit",
             {{"type", "string"},
              {"enum", {"pixel", "normalized", "patch"}},
              {"description", "pixel (default), normalized (0..1) or patch (first-view cells, inclusive)"}}},
            {"image", {{"type", "integer"}, {"minimum", 0}, {"description", "attached image index (default: last)"}}}}},
          {"required", {"bbox_2d"}},
          {"additionalProperties", false}};
}

std::array<double, 4> patch_cells_to_pixels(int image_width, int image_height, const VisionParams& vision,
                                            int col0, int row0, int col1, int row1) {
  int view_w = 0, view_h = 0;
  view_size(image_width, image_height, vision, &view_w, &view_h);
  const double sx = static_cast<double>(image_width) / view_w, sy = static_cast<double>(image_height) / view_h;
  const double p = vision.patch_size;
  return {col0 * p * sx, row0 * p * sy, (col1 + 1) * p * sx, (row1 + 1) * p * sy};
}

Image zoom_view(const Image& image, const std::array<int, 4>& box, const VisionParams& vision, int* view_width,
                int* view_height) {
  const Image crop = crop_image(image, box[0], box[1], box[2], box[3]);
  // The largest aspect-preserving view within the budget: view_size of a greatly enlarged copy.
  constexpr int kEnlarge = 64;
  int w = 0, h = 0;
  view_size(crop.width * kEnlarge, crop.height * kEnlarge, vision, &w, &h);
  if (view_width) *view_width = w;
  if (view_height) *view_height = h;
  return resize_image(crop, w, h);
}

ToolResult Zoom::invoke(const nlohmann::json& arguments, const ToolContext& context) const {
  if (context.images.empty()) return ToolResult::failure(ToolError::NoAttachment, "no image is attached to zoom into");
  int index = static_cast<int>(context.images.size()) - 1;
  if (arguments.contains("image")) {
    const auto& value = arguments["image"];
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() >= static_cast<int64_t>(context.images.size()))
      return ToolResult::failure(ToolError::InvalidInput, "image " + value.dump() + " is not attached (images: 0.." +
                                                              std::to_string(context.images.size() - 1) + ")");
    index = value.get<int>();
  }
  const Image& image = *context.images[static_cast<size_t>(index)];
  const std::string unit = arguments.value("unit", std::string("pixel"));
  const auto& b = arguments.at("bbox_2d");
  double v[4];
  for (int i = 0; i < 4; ++i) {
    if (!b[static_cast<size_t>(i)].is_number())
      return ToolResult::failure(ToolError::BadArguments, "bbox_2d must hold 4 numbers");
    v[i] = b[static_cast<size_t>(i)].get<double>();
    if (!std::isfinite(v[i])) return ToolResult::failure(ToolError::InvalidInput, "bbox_2d holds a non-finite number");
  }
  const std::string given = b.dump();
  if (v[2] < v[0] || v[3] < v[1] || (unit != "patch" && (v[2] == v[0] || v[3] == v[1])))
    return ToolResult::failure(ToolError::InvalidInput,
                               "bbox_2d " + given + " has no area: expected x1 < x2 and y1 < y2");
  double px[4];
  if (unit == "pixel") {
    std::copy(v, v + 4, px);
  } else if (unit == "normalized") {
    px[0] = v[0] * image.width, px[1] = v[1] * image.height, px[2] = v[2] * image.width, px[3] = v[3] * image.height;
  } else if (unit == "patch") {
    for (double c : v)
      if (std::abs(c) > 1e6) return ToolResult::failure(ToolError::InvalidInput, "bbox_2d " + given + " is far outside the grid");
    const auto p = patch_cells_to_pixels(image.width, image.height, context.vision, static_cast<int>(std::floor(v[0])),
                                         static_cast<int>(std::floor(v[1])), static_cast<int>(std::floor(v[2])),
                                         static_cast<int>(std::floor(v[3])));
    std::copy(p.begin(), p.end(), px);
  } else {
    return ToolResult::failure(ToolError::BadArguments, "unit must be pixel, normalized or patch");
  }
  // Outward rounding: a box that touches a pixel reads it.
  const double lo_x = std::floor(px[0]), lo_y = std::floor(px[1]), hi_x = std::ceil(px[2]), hi_y = std::ceil(px[3]);
  ZoomGeometry g;
  g.box = {static_cast<int>(std::clamp(lo_x, 0.0, static_cast<double>(image.width))),
           static_cast<int>(std::clamp(lo_y, 0.0, static_cast<double>(image.height))),
           static_cast<int>(std::clamp(hi_x, 0.0, static_cast<double>(image.width))),
           static_cast<int>(std::clamp(hi_y, 0.0, static_cast<double>(image.height)))};
  g.clamped = g.box[0] != lo_x || g.box[1] != lo_y || g.box[2] != hi_x || g.box[3] != hi_y;
  if (g.box[2] <= g.box[0] || g.box[3] <= g.box[1])
    return ToolResult::failure(ToolError::InvalidInput, "bbox_2d " + given + " (" + unit + ") lies outside the " +
                                                            std::to_string(image.width) + "x" +
                                                            std::to_string(image.height) + " image");
  ToolResult r;
  r.image = std::make_shared<const Image>(zoom_view(image, g.box, context.vision, &g.view_width, &g.view_height));
  r.details = {{"image", index},
               {"box", {g.box[0], g.box[1], g.box[2], g.box[3]}},
               {"crop", {g.box[2] - g.box[0], g.box[3] - g.box[1]}},
               {"view", {g.view_width, g.view_height}},
               {"clamped", g.clamped}};
  return r;
}

}  // namespace muse
