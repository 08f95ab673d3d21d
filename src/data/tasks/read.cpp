// TEMPORARY STUB (being implemented now): every function throws. Replace this whole file.
#include "data/tasks/read.h"
#include "util/error.h"
namespace muse {
std::string ReadTask::description() const { throw MuseError("not implemented"); }
int ReadTask::min_difficulty() const { return 1; }
int ReadTask::max_difficulty() const { return 1; }
Example ReadTask::generate(Rng&, int) const { throw MuseError("not implemented"); }
double ReadTask::verify(const Example&, const std::string&) const { throw MuseError("not implemented"); }
}
