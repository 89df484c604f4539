#include "remediation/templating.hpp"

#include <algorithm>
#include <array>
#include <iterator>

namespace acis::remediation {

namespace {

constexpr std::array<std::string_view, 6> known_placeholders = {"check",  "target",   "model",
                                                               "backup", "incident", "severity"};
// These name one entry of a folder (a target is a model folder for model_metadata checks).
constexpr std::array<std::string_view, 3> path_components = {"target", "model", "backup"};

bool is_known(std::string_view name) {
  return std::find(known_placeholders.begin(), known_placeholders.end(), name) !=
         known_placeholders.end();
}
bool is_path_component(std::string_view name) {
  return std::find(path_components.begin(), path_components.end(), name) !=
         path_components.end();
}

bool allowed_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == ':' || c == '@' || c == '/' || c == '-';
}

bool placeholder_name_char(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

bool has_dotdot_segment(std::string_view v) {
  std::size_t start = 0;
  while (start <= v.size()) {
    auto slash = v.find('/', start);
    auto end = slash == std::string_view::npos ? v.size() : slash;
    if (v.substr(start, end - start) == "..") return true;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return false;
}

constexpr char hex_digits[] = "0123456789abcdef";

void append_escaped(std::string& out, unsigned char c) {
  if (c == '\\' || c == '"') {
    out += '\\';
    out += static_cast<char>(c);
  } else if (c >= 0x20 && c < 0x7f) {
    out += static_cast<char>(c);
  } else {
    out += "\\x";
    out += hex_digits[c >> 4];
    out += hex_digits[c & 0xf];
  }
}

}  // namespace

std::string shown_value(std::string_view s, std::size_t max_chars) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    std::string one;
    append_escaped(one, static_cast<unsigned char>(s[i]));
    if (out.size() + one.size() > max_chars) {
      out += "...(" + std::to_string(s.size()) + " bytes)";
      return out;
    }
    out += one;
  }
  return out;
}

std::string template_error::message() const {
  std::string m;
  if (element) m += "argv[" + std::to_string(*element) + "]: ";
  m += "{" + placeholder + "} refused: " + reason;
  if (!value.empty()) m += " (value \"" + value + "\")";
  return m;
}

std::optional<std::string> value_problem(std::string_view placeholder, std::string_view value,
                                         template_use use) {
  if (value.empty()) return "is empty";
  if (value.size() > max_value_bytes)
    return "is " + std::to_string(value.size()) + " bytes long (at most " +
           std::to_string(max_value_bytes) + ")";
  auto bad = std::find_if_not(value.begin(), value.end(), allowed_char);
  if (bad != value.end()) {
    std::string shown;
    append_escaped(shown, static_cast<unsigned char>(*bad));
    return "contains '" + shown + "' at offset " +
           std::to_string(std::distance(value.begin(), bad)) +
           ", outside [A-Za-z0-9._:@/-]";
  }
  if (use == template_use::text) return std::nullopt;

  if (is_path_component(placeholder)) {
    if (value == "." || value == "..") return "is '" + std::string(value) + "', not a folder entry";
    if (value.find('/') != std::string_view::npos)
      return "contains '/' but must name one folder entry";
  }
  if (has_dotdot_segment(value)) return "contains a '..' path segment";
  if (use == template_use::argument && value.front() == '-')
    return "starts with '-' and could be read as an option";
  return std::nullopt;
}

std::variant<std::string, template_error> expand(std::string_view templ,
                                                 const template_values& values,
                                                 template_use use) {
  std::string out;
  out.reserve(templ.size());
  std::size_t i = 0;
  while (i < templ.size()) {
    char c = templ[i];
    if ((c == '{' || c == '}') && i + 1 < templ.size() && templ[i + 1] == c) {
      out += c;  // "{{" or "}}": one literal brace
      i += 2;
      continue;
    }
    if (c == '{') {
      // A placeholder is "{" [a-z_]+ "}"; anything else is a literal brace.
      std::size_t j = i + 1;
      while (j < templ.size() && placeholder_name_char(templ[j])) ++j;
      if (j > i + 1 && j < templ.size() && templ[j] == '}') {
        auto name = templ.substr(i + 1, j - i - 1);
        if (!is_known(name))
          return template_error{std::string(name), "unknown placeholder", {}, std::nullopt};
        auto it = values.values.find(name);
        if (it == values.values.end())
          return template_error{std::string(name), "has no value for this incident", {},
                                std::nullopt};
        if (auto problem = value_problem(name, it->second, use))
          return template_error{std::string(name), *problem, shown_value(it->second),
                                std::nullopt};
        out += it->second;
        i = j + 1;
        continue;
      }
    }
    out += c;
    ++i;
  }
  return out;
}

std::variant<std::vector<std::string>, template_error> expand_all(
    const std::vector<std::string>& argv, const template_values& values, template_use use) {
  std::vector<std::string> out;
  out.reserve(argv.size());
  for (std::size_t i = 0; i < argv.size(); ++i) {
    auto r = expand(argv[i], values, use);
    if (auto* e = std::get_if<template_error>(&r)) {
      e->element = i;
      return std::move(*e);
    }
    out.push_back(std::move(std::get<std::string>(r)));
  }
  return out;
}

bool is_within(const std::filesystem::path& base, const std::filesystem::path& candidate) {
  if (base.empty()) return false;
  if (candidate.is_absolute() && !base.is_absolute()) return false;
  // operator/ with an absolute right side yields the right side, so this covers both cases.
  auto b = base.lexically_normal();
  auto c = (base / candidate).lexically_normal();
  // "a/b/" normalises to "a/b/" whose last element is empty: drop it so it compares as "a/b".
  auto trimmed = [](const std::filesystem::path& p) {
    std::vector<std::filesystem::path> parts(p.begin(), p.end());
    if (!parts.empty() && parts.back().empty()) parts.pop_back();
    return parts;
  };
  auto bp = trimmed(b), cp = trimmed(c);
  // "." (the current folder) is the empty relative prefix.
  if (bp.size() == 1 && bp.front() == ".") bp.clear();
  if (cp.size() == 1 && cp.front() == ".") cp.clear();
  // A base that climbs above its starting point cannot be compared as text.
  if (!bp.empty() && bp.front() == "..") return false;
  if (cp.size() <= bp.size()) return false;
  if (!std::equal(bp.begin(), bp.end(), cp.begin())) return false;
  return std::none_of(cp.begin() + static_cast<std::ptrdiff_t>(bp.size()), cp.end(),
                      [](const std::filesystem::path& e) { return e == ".."; });
}

}  // namespace acis::remediation
