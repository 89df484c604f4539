// The reader of "type": "postgres" checks: conninfo (never with a password in it), the
// password's source (password_env or password_file), query and expected value.

#include <cctype>
#include <string>

#include "config/parse_internal.hpp"
#include "config/value_rules.hpp"

namespace acis::config::detail {

namespace {

// The conninfo may not carry a password: the config file is readable by more people than the
// secret should be, and it would show up in logs and /status.
bool conninfo_has_password(std::string_view conninfo) {
  auto text = lower(conninfo);
  for (std::size_t pos = text.find("password"); pos != std::string::npos;
       pos = text.find("password", pos + 1)) {
    bool word_start = pos == 0 || std::isspace(static_cast<unsigned char>(text[pos - 1])) ||
                      text[pos - 1] == '?' || text[pos - 1] == '&';
    auto after = pos + 8;
    while (after < text.size() && std::isspace(static_cast<unsigned char>(text[after]))) ++after;
    if (word_start && after < text.size() && text[after] == '=') return true;
  }
  // URI form: postgresql://user:secret@host/db
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (text.rfind(scheme, 0) != 0) continue;
    auto rest = std::string_view(text).substr(scheme.size());
    auto authority = rest.substr(0, rest.find_first_of("/?"));
    auto at = authority.rfind('@');
    if (at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos)
      return true;
  }
  return false;
}

}  // namespace

postgres_check read_postgres_check(json_walker& w, const json& j, const std::string& ptr) {
  postgres_check pg;
  if (w.require(j, ptr, "conninfo")) {
    w.field(j, ptr, "conninfo", pg.conninfo, [&](const json& v, const std::string& p) {
      auto s = w.nonempty_string(v, p);
      if (s && conninfo_has_password(*s)) {
        // The value is not echoed: it holds a secret.
        w.fault(p, "contains a password; put the password in password_env or password_file");
        return std::optional<std::string>();
      }
      return s;
    });
  }
  w.field(j, ptr, "password_env", pg.password_env, [&](const json& v, const std::string& p) {
    auto s = w.string(v, p);
    if (s && !is_env_name(*s)) {
      // Not echoed: a value that is not a variable name may be the password itself.
      w.fault(p,
              "expected the name of an environment variable holding the password, like "
              "\"PGPASSWORD\" (the value given is not shown: it may be a secret)");
      return std::optional<std::string>();
    }
    return s;
  });
  w.field(j, ptr, "password_file", pg.password_file,
          [&](const json& v, const std::string& p) { return w.nonempty_string(v, p); });
  if (j.contains("password_env") && j.contains("password_file"))
    w.fault(child(ptr, "password_file"), "use either password_env or password_file, not both");
  w.field(j, ptr, "query", pg.query,
          [&](const json& v, const std::string& p) { return w.nonempty_string(v, p); });
  w.field(j, ptr, "expect", pg.expect,
          [&](const json& v, const std::string& p) { return w.string(v, p); });
  return pg;
}

}  // namespace acis::config::detail
