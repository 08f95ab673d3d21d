#include "tools/zoom.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tools/registry.h"

namespace muse {
namespace {

// A 288 x 192 white image with a black 20 x 10 block at (100, 50).
ToolContext context_with_block() {
  Image image = make_image(288, 192);
  for (int y = 50; y < 60; ++y)
    for (int x = 100; x < 120; ++x) {
      uint8_t* p = image.pixel(x, y);
      p[0] = p[1] = p[2] = 0;
    }
  ToolContext context;
  context.images.push_back(std::make_shared<const Image>(std::move(image)));
  return context;
}

int dark_pixels(const Image& image) {
  int n = 0;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) n += image.pixel(x, y)[0] < 128 ? 1 : 0;
  return n;
}

TEST(Zoom, CropsAtFullResolutionAndMagnifiesToOneView) {
  const auto context = context_with_block();
  const auto r = builtin_tools().call("zoom", {{"bbox_2d", {96, 46, 124, 64}}}, context);
  ASSERT_TRUE(r.ok()) << r.text;
  ASSERT_TRUE(r.image);
  EXPECT_EQ(r.details["box"], nlohmann::json({96, 46, 124, 64}));
  EXPECT_EQ(r.details["crop"], nlohmann::json({28, 18}));
  EXPECT_FALSE(r.details["clamped"].get<bool>());
  // Magnified: bigger than the crop, within the patch budget, aspect kept.
  const int w = r.image->width, h = r.image->height;
  EXPECT_GT(w, 28);
  const VisionParams v;
  EXPECT_LE(((w + v.patch_size - 1) / v.patch_size) * ((h + v.patch_size - 1) / v.patch_size), v.max_patches);
  EXPECT_NEAR(static_cast<double>(w) / h, 28.0 / 18.0, 0.15);
  // The block fills the same share of the crop as of the box.
  EXPECT_NEAR(dark_pixels(*r.image) / static_cast<double>(w * h), 200.0 / (28 * 18), 0.05);
  // The result the model sees is the image (no text).
  const auto segments = r.segments();
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0].kind, SegmentKind::Image);
}

TEST(Zoom, NormalizedAndPatchUnitsNameTheSameRegion) {
  const auto context = context_with_block();
  const auto normalized =
      builtin_tools().call("zoom", {{"bbox_2d", {0.25, 0.25, 0.5, 0.5}}, {"unit", "normalized"}}, context);
  ASSERT_TRUE(normalized.ok()) << normalized.text;
  EXPECT_EQ(normalized.details["box"], nlohmann::json({72, 48, 144, 96}));
  // 288 x 192 has a 72 x 48 first view: 9 x 6 cells of 8 view pixels = 32 original pixels each.
  const auto cells = builtin_tools().call("zoom", {{"bbox_2d", {3, 1, 3, 1}}, {"unit", "patch"}}, context);
  ASSERT_TRUE(cells.ok()) << cells.text;
  EXPECT_EQ(cells.details["box"], nlohmann::json({96, 32, 128, 64}));
  EXPECT_GT(dark_pixels(*cells.image), 0);
}

TEST(Zoom, BadBoxesAreErrorsTheModelCanRead) {
  const auto context = context_with_block();
  struct Case {
    nlohmann::json args;
    ToolError error;
    const char* says;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Case> cases = {
      {{{"bbox_2d", {300, 200, 400, 300}}}, ToolError::InvalidInput, "outside the 288x192 image"},
      {{{"bbox_2d", {10, 10, 10, 40}}}, ToolError::InvalidInput, "no area"},
      {{{"bbox_2d", {50, 10, 20, 40}}}, ToolError::InvalidInput, "no area"},
      {{{"bbox_2d", {nan, 10, 20, 40}}}, ToolError::BadArguments, "bbox_2d"},
      {{{"bbox_2d", {1, 2, 3}}}, ToolError::BadArguments, "bbox_2d"},
      {{{"bbox_2d", "0,0,10,10"}}, ToolError::BadArguments, "bbox_2d"},
      {{{"box", {0, 0, 10, 10}}}, ToolError::BadArguments, "box"},
      {{{"bbox_2d", {0, 0, 10, 10}}, {"unit", "inch"}}, ToolError::BadArguments, "unit"},
      {{{"bbox_2d", {0, 0, 10, 10}}, {"image", 3}}, ToolError::InvalidInput, "not attached"},
      {{{"bbox_2d", {-1e300, 0, 1e300, 10}}, {"unit", "patch"}}, ToolError::InvalidInput, "outside"},
  };
  for (const auto& c : cases) {
    const auto r = builtin_tools().call("zoom", c.args, context);
    EXPECT_EQ(r.error, c.error) << c.args.dump() << " -> " << r.text;
    EXPECT_NE(r.text.find(c.says), std::string::npos) << c.args.dump() << " -> " << r.text;
    EXPECT_FALSE(r.image);
  }
  // Partly outside: clamped, not refused.
  const auto r = builtin_tools().call("zoom", {{"bbox_2d", {250, 150, 400, 300}}}, context);
  ASSERT_TRUE(r.ok()) << r.text;
  EXPECT_TRUE(r.details["clamped"].get<bool>());
  EXPECT_EQ(r.details["box"], nlohmann::json({250, 150, 288, 192}));
  // No image attached at all.
  EXPECT_EQ(builtin_tools().call("zoom", {{"bbox_2d", {0, 0, 1, 1}}}, ToolContext{}).error, ToolError::NoAttachment);
}

TEST(ToolRegistry, UnknownToolsAndSchemaFailuresAreNamed) {
  const auto unknown = builtin_tools().call("python", {{"code", "print(1)"}}, ToolContext{});
  EXPECT_EQ(unknown.error, ToolError::UnknownTool);
  EXPECT_NE(unknown.text.find("calculator, zoom, table_query"), std::string::npos) << unknown.text;
  const auto bad = builtin_tools().call("calculator", {{"expr", "1+1"}}, ToolContext{});
  EXPECT_EQ(bad.error, ToolError::BadArguments);
  EXPECT_NE(bad.text.find("expression"), std::string::npos) << bad.text;
  EXPECT_EQ(bad.segments()[0].text.rfind("error: bad_arguments: ", 0), 0u) << bad.segments()[0].text;
  EXPECT_EQ(builtin_tool_names(), (std::vector<std::string>{"calculator", "zoom", "table_query"}));
}

}  // namespace
}  // namespace muse
