// The reader of "type": "process" checks: cmdline_contains, cmdline_not_contains, running.

#include <string>

#include "config/parse_internal.hpp"

namespace acis::config::detail {

process_check read_process_check(json_walker& w, const json& j, const std::string& ptr) {
  process_check pr;
  if (w.require(j, ptr, "cmdline_contains"))
    w.field(j, ptr, "cmdline_contains", pr.cmdline_contains,
            [&](const json& v, const std::string& p) { return w.nonempty_string(v, p); });
  w.field(j, ptr, "cmdline_not_contains", pr.cmdline_not_contains,
          [&](const json& v, const std::string& p) { return w.nonempty_string(v, p); });
  w.field(j, ptr, "running", pr.running,
          [&](const json& v, const std::string& p) { return w.boolean(v, p); });
  return pr;
}

}  // namespace acis::config::detail
