// TEMPORARY STUB (being implemented now): every function throws. Replace this whole file.
#include "data/tasks/grid.h"
#include "util/error.h"
namespace muse {
std::string GridTask::description() const { throw MuseError("not implemented"); }
int GridTask::min_difficulty() const { return 1; }
int GridTask::max_difficulty() const { return 1; }
Example GridTask::generate(Rng&, int) const { throw MuseError("not implemented"); }
double GridTask::verify(const Example&, const std::string&) const { throw MuseError("not implemented"); }
}
