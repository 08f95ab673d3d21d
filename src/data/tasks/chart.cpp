// TEMPORARY STUB (being implemented now): every function throws. Replace this whole file.
#include "data/tasks/chart.h"
#include "util/error.h"
namespace muse {
std::string ChartTask::description() const { throw MuseError("not implemented"); }
int ChartTask::min_difficulty() const { return 1; }
int ChartTask::max_difficulty() const { return 1; }
Example ChartTask::generate(Rng&, int) const { throw MuseError("not implemented"); }
double ChartTask::verify(const Example&, const std::string&) const { throw MuseError("not implemented"); }
}
