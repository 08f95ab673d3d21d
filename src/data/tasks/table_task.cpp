// TEMPORARY STUB (being implemented now): every function throws. Replace this whole file.
#include "data/tasks/table_task.h"
#include "util/error.h"
namespace muse {
std::string TableTask::description() const { throw MuseError("not implemented"); }
int TableTask::min_difficulty() const { return 1; }
int TableTask::max_difficulty() const { return 1; }
Example TableTask::generate(Rng&, int) const { throw MuseError("not implemented"); }
double TableTask::verify(const Example&, const std::string&) const { throw MuseError("not implemented"); }
}
