// TEMPORARY STUB (being implemented now): every function throws. Replace this whole file.
#include "data/image.h"
#include "util/error.h"
namespace muse {
Image make_image(int, int, uint8_t, uint8_t, uint8_t) { throw MuseError("not implemented"); }
Image decode_image(const uint8_t*, size_t, const std::string&, const ImageLimits&) { throw MuseError("not implemented"); }
Image load_image(const std::string&, const ImageLimits&) { throw MuseError("not implemented"); }
std::vector<uint8_t> encode_png(const Image&) { throw MuseError("not implemented"); }
void save_png(const Image&, const std::string&) { throw MuseError("not implemented"); }
Image resize_image(const Image&, int, int) { throw MuseError("not implemented"); }
Image crop_image(const Image&, int, int, int, int) { throw MuseError("not implemented"); }
}
