// TEMPORARY STUB (being implemented now): every function throws. Replace this whole file.
#include "data/tasks/count.h"
#include "util/error.h"
namespace muse {
std::string CountTask::description() const { throw MuseError("not implemented"); }
int CountTask::min_difficulty() const { return 1; }
int CountTask::max_difficulty() const { return 1; }
Example CountTask::generate(Rng&, int) const { throw MuseError("not implemented"); }
double CountTask::verify(const Example&, const std::string&) const { throw MuseError("not implemented"); }
}
