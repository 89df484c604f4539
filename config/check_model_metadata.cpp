// The reader of "type": "model_metadata" checks: models_dir, metadata_file (relative to each
// model folder), max_age, timestamp_pointer and rules (JSON-pointer conditions).

#include <string>

#include "config/parse_internal.hpp"

namespace acis::config::detail {

model_metadata_check read_model_metadata_check(json_walker& w, const json& j,
                                               const std::string& ptr) {
  model_metadata_check m;
  if (w.require(j, ptr, "models_dir"))
    w.field(j, ptr, "models_dir", m.models_dir,
            [&](const json& v, const std::string& p) { return w.nonempty_string(v, p); });
  w.field(j, ptr, "metadata_file", m.metadata_file, [&](const json& v, const std::string& p) {
    auto s = w.nonempty_string(v, p);
    if (s && (s->front() == '/' || *s == "." || *s == "..")) {
      w.fault(p, "expected a file name relative to each model folder, got " + quote(*s));
      return std::optional<std::string>();
    }
    return s;
  });
  w.field(j, ptr, "max_age", m.max_age,
          [&](const json& v, const std::string& p) { return w.positive_duration(v, p); });
  w.field(j, ptr, "timestamp_pointer", m.timestamp_pointer,
          [&](const json& v, const std::string& p) { return w.pointer(v, p); });
  w.with(j, ptr, "rules", [&](const json& v, const std::string& p) {
    if (!w.array(v, p)) return;
    for (std::size_t i = 0; i < v.size(); ++i) {
      metadata_rule rule;
      if (w.read_condition(v[i], child(p, i), "path", rule.path, rule.equals, rule.min, rule.max))
        m.rules.push_back(std::move(rule));
    }
  });
  return m;
}

}  // namespace acis::config::detail
