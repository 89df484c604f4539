// Placeholders in runbook step arguments: `{check}`, `{target}`, `{model}`, `{backup}`,
// `{incident}`, `{severity}` (SPEC.md "Runbook step kinds").
//
// Contract: a value is substituted inside one string (one argv element, one URL, one message)
// and never re-split by a shell. Values come from the outside world (a model folder's name, a
// check's target), so each one used by a template is checked before anything is built; a value
// that fails refuses the whole string (the caller refuses the step, logs the error and
// escalates the incident: nothing is executed). Pure: no I/O, never throws on bad values.
//
// Template syntax: `{name}` with name in [a-z_]+ is a placeholder; `{{` and `}}` are literal
// braces; any other brace is literal too (config validation accepts `{"a": 1}` in a body, so
// the expander must not refuse it at run time). A placeholder that is not one of the six, or
// whose value is absent (e.g. `{model}` for an incident of a non-model check), is an error.
//
// Value rules, by where the string goes (template_use):
//  - every use: non-empty, at most 255 bytes, only [A-Za-z0-9._:@/-].
//  - argument (argv elements, cwd, env values, pidfiles, command-line patterns):
//      * {target}, {model}, {backup} name one folder entry: no '/', not "." or "..";
//      * no value starts with '-' (it could be read as an option: "-rf");
//      * no value has ".." as a '/'-separated segment ("a/../b").
//  - url (http steps): the path-component and ".." rules above (a URL path must not climb
//    out of the folder it names either); a leading '-' is harmless in a URL and allowed.
//  - text (notify messages, manual instructions; shown to humans, never executed): only the
//    every-use rule, which already keeps newlines and control bytes out of logs.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace acis::remediation {

// Values by placeholder name without braces: {"model", "resnet-2024"}. Absent = no value.
struct template_values {
  std::map<std::string, std::string, std::less<>> values;
};

enum class template_use { argument, url, text };

struct template_error {
  std::string placeholder;  // "model" (without braces); the unknown name for an unknown one
  std::string reason;       // why, e.g. "starts with '-' and could be read as an option"
  // The offending value escaped and bounded by shown_value() ("" when there is no value);
  // never the raw value, which may carry newlines or terminal escapes.
  std::string value;
  std::optional<std::size_t> element;  // index in the argv, set by expand_all()

  // "argv[2]: {model} refused: contains a '..' path segment (value \"a/../b\")"
  std::string message() const;
};

// The longest value a placeholder may carry (NAME_MAX: one folder entry).
inline constexpr std::size_t max_value_bytes = 255;

// `s` safe for a log line: printable ASCII kept, '\\' and '"' backslash-escaped, every other
// byte as \xNN; at most `max_chars` characters of escaped text, then "...(N bytes)".
std::string shown_value(std::string_view s, std::size_t max_chars = 64);

// Checks one value for one placeholder as used in `use`; the reason when it is refused.
std::optional<std::string> value_problem(std::string_view placeholder, std::string_view value,
                                         template_use use);

std::variant<std::string, template_error> expand(std::string_view templ,
                                                 const template_values& values,
                                                 template_use use = template_use::argument);

// Every element expanded, or the first refusal (with its index). Elements are never split or
// joined: the result has exactly argv.size() elements.
std::variant<std::vector<std::string>, template_error> expand_all(
    const std::vector<std::string>& argv, const template_values& values,
    template_use use = template_use::argument);

// True when `candidate` lies strictly below `base` after lexical normalisation ("." and ".."
// resolved as text, no symlinks followed, trailing '/' ignored). A relative candidate is taken
// relative to `base` (base / candidate). `base` itself is not within `base`; an empty base
// contains nothing; an absolute candidate is never within a relative base.
bool is_within(const std::filesystem::path& base, const std::filesystem::path& candidate);

}  // namespace acis::remediation
