// The reader of "type": "file_age" checks: path and max_age, both required.

#include <string>

#include "config/parse_internal.hpp"

namespace acis::config::detail {

file_age_check read_file_age_check(json_walker& w, const json& j, const std::string& ptr) {
  file_age_check f;
  if (w.require(j, ptr, "path"))
    w.field(j, ptr, "path", f.path,
            [&](const json& v, const std::string& p) { return w.nonempty_string(v, p); });
  if (w.require(j, ptr, "max_age"))
    w.field(j, ptr, "max_age", f.max_age,
            [&](const json& v, const std::string& p) { return w.positive_duration(v, p); });
  return f;
}

}  // namespace acis::config::detail
