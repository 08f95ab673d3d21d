// TEMPORARY STUB (being implemented now): every function throws. Replace this whole file.
#include "data/patches.h"
#include "util/error.h"
namespace muse {
void view_size(int, int, const VisionParams&, int*, int*) { throw MuseError("not implemented"); }
PatchGrid patchify(const Image&, const VisionParams&) { throw MuseError("not implemented"); }
}
