// TEMPORARY STUB (being implemented now): every function throws. Replace this whole file.
#include "data/table.h"
#include <nlohmann/json.hpp>
#include "util/error.h"
namespace muse {
Table parse_csv(const std::string&, const std::string&, const TableLimits&) { throw MuseError("not implemented"); }
Table table_from_json(const nlohmann::json&, const std::string&, const TableLimits&) { throw MuseError("not implemented"); }
Table parse_json_table(const std::string&, const std::string&, const TableLimits&) { throw MuseError("not implemented"); }
Table load_table(const std::string&, const TableLimits&) { throw MuseError("not implemented"); }
void check_table(const Table&, const std::string&, const TableLimits&) { throw MuseError("not implemented"); }
std::string to_csv(const Table&) { throw MuseError("not implemented"); }
}
