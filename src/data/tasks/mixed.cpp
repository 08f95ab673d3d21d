// TEMPORARY STUB (being implemented now): every function throws. Replace this whole file.
#include "data/tasks/mixed.h"
#include "util/error.h"
namespace muse {
std::string MixedTask::description() const { throw MuseError("not implemented"); }
int MixedTask::min_difficulty() const { return 1; }
int MixedTask::max_difficulty() const { return 1; }
Example MixedTask::generate(Rng&, int) const { throw MuseError("not implemented"); }
double MixedTask::verify(const Example&, const std::string&) const { throw MuseError("not implemented"); }
}
