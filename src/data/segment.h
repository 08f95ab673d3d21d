// A prompt is a sequence of segments: text, images and tables. Every position the model sees carries
// (t, row, col) rotary coordinates, so images and tables keep their 2-D structure inside the one decoder.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/table.h"

namespace muse {

enum class SegmentKind { Text, Image, Table };

struct Segment {
  SegmentKind kind = SegmentKind::Text;
  std::string text;                    // SegmentKind::Text
  std::shared_ptr<const Image> image;  // SegmentKind::Image: the full-resolution original (kept for zooming)
  std::shared_ptr<const Table> table;  // SegmentKind::Table
};

inline Segment text_segment(std::string text) { return Segment{SegmentKind::Text, std::move(text), nullptr, nullptr}; }
inline Segment image_segment(Image image) {
  return Segment{SegmentKind::Image, {}, std::make_shared<const Image>(std::move(image)), nullptr};
}
inline Segment table_segment(Table table) {
  return Segment{SegmentKind::Table, {}, nullptr, std::make_shared<const Table>(std::move(table))};
}

// The plain text of all text segments, concatenated.
inline std::string segments_text(const std::vector<Segment>& segments) {
  std::string out;
  for (const auto& s : segments)
    if (s.kind == SegmentKind::Text) out += s.text;
  return out;
}

// A string that identifies the prompt's content: its text, plus a digest of every image's pixels and every
// table's cells. Equal to segments_text() for text-only prompts. Used to split train from held-out problems.
std::string segments_key(const std::vector<Segment>& segments);

}  // namespace muse
