#include <type_traits>
#include <variant>

#include "checks/check.hpp"
#include "checks/kinds.hpp"

namespace acis::checks {

std::string_view to_string(health h) {
  switch (h) {
    case health::ok: return "ok";
    case health::degraded: return "degraded";
    case health::failing: return "failing";
  }
  return "failing";
}

std::unique_ptr<check> make_check(const config::check_config& cfg, check_context ctx) {
  return std::visit(
      [&](const auto& kind) -> std::unique_ptr<check> {
        using T = std::decay_t<decltype(kind)>;
        if constexpr (std::is_same_v<T, config::http_check>) return make_http_check(cfg, kind, ctx);
        else if constexpr (std::is_same_v<T, config::postgres_check>)
          return make_postgres_check(cfg, kind, ctx);
        else if constexpr (std::is_same_v<T, config::model_metadata_check>)
          return make_model_metadata_check(cfg, kind, ctx);
        else if constexpr (std::is_same_v<T, config::process_check>)
          return make_process_check(cfg, kind, ctx);
        else if constexpr (std::is_same_v<T, config::file_age_check>)
          return make_file_age_check(cfg, kind, ctx);
        else {
          static_assert(std::is_same_v<T, config::log_pattern_check>, "a check kind is not wired");
          return make_log_pattern_check(cfg, kind, ctx);
        }
      },
      cfg.kind);
}

}  // namespace acis::checks
