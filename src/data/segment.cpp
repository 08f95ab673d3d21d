#include "data/segment.h"

#include <cstdint>
#include <cstdio>

namespace muse {

namespace {

// 64-bit FNV-1a: fixed constants, so keys (and hence train/held-out splits) never move between builds.
uint64_t fnv1a(const void* data, size_t size, uint64_t hash = 14695981039346656037ULL) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string hex(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

}  // namespace

std::string segments_key(const std::vector<Segment>& segments) {
  std::string key;
  for (const auto& segment : segments) {
    switch (segment.kind) {
      case SegmentKind::Text:
        key += segment.text;
        break;
      case SegmentKind::Image: {
        const Image& image = *segment.image;
        uint64_t hash = fnv1a(&image.width, sizeof image.width);
        hash = fnv1a(&image.height, sizeof image.height, hash);
        hash = fnv1a(image.rgb.data(), image.rgb.size(), hash);
        key += "<image " + hex(hash) + ">";
        break;
      }
      case SegmentKind::Table: {
        // Cells separated by bytes that cannot occur in UTF-8 text, so different tables never collide by layout.
        uint64_t hash = 14695981039346656037ULL;
        auto add = [&](const std::string& cell) {
          hash = fnv1a(cell.data(), cell.size(), hash);
          const unsigned char separator = 0xff;
          hash = fnv1a(&separator, 1, hash);
        };
        for (const auto& name : segment.table->header) add(name);
        for (const auto& row : segment.table->rows) {
          for (const auto& cell : row) add(cell);
          const unsigned char row_end = 0xfe;
          hash = fnv1a(&row_end, 1, hash);
        }
        key += "<table " + hex(hash) + ">";
        break;
      }
    }
  }
  return key;
}

}  // namespace muse
