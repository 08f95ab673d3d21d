// A prompt is a sequence of segments. Text now; image patches and table cells join in the multimodal issue,
// which is why every position the model sees carries (t, row, col) coordinates rather than one index.
#pragma once
#include <string>
#include <vector>

namespace muse {

enum class SegmentKind { Text };

struct Segment {
  SegmentKind kind = SegmentKind::Text;
  std::string text;  // for SegmentKind::Text
};

inline Segment text_segment(std::string text) { return Segment{SegmentKind::Text, std::move(text)}; }

// The plain text of all text segments, concatenated.
inline std::string segments_text(const std::vector<Segment>& segments) {
  std::string out;
  for (const auto& s : segments)
    if (s.kind == SegmentKind::Text) out += s.text;
  return out;
}

}  // namespace muse
