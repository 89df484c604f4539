// Text from untrusted places (check results, config values, step output) made safe to show.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace acis::checks {

// One line of text: ASCII and C1 control characters and U+2028/U+2029 become spaces, so that
// nothing taken from a check result, the config or a step's result can start a new line (a
// forged markdown heading or table row in a report) or drive a terminal. Other bytes are kept.
std::string one_line(std::string_view s);

// The target name of a raw name found in the world (a model folder's name as the file system
// gives it): always valid UTF-8 without control characters, decided once at the source so that
// the journal, the log, /status, metric labels and a restart all see the same name.
// Reversible and deterministic:
//  - a backslash becomes two backslashes;
//  - every byte of an invalid UTF-8 sequence (stray continuation byte, overlong form,
//    surrogate, beyond U+10FFFF, truncated sequence) becomes `\xNN` (two lowercase hex digits);
//  - every byte of a control character (C0, DEL, C1, U+2028/U+2029) becomes `\xNN` too;
//  - everything else is kept as is (so a plain ASCII or UTF-8 name is its own target name).
std::string target_name_for(std::string_view raw);

// The inverse of target_name_for: the raw bytes of a target name. nullopt when `target` is not
// a name target_name_for produces (a lone backslash, a bad escape, an escape of a byte that
// needed none, a raw invalid byte): a caller acting on the file system must refuse such a name.
std::optional<std::string> raw_name_of(std::string_view target);

// True when `s` is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace acis::checks
