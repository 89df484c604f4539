// Text from untrusted places (check results, config values, step output) made safe to show.
#pragma once
#include <string>
#include <string_view>

namespace acis::checks {

// One line of text: ASCII and C1 control characters and U+2028/U+2029 become spaces, so that
// nothing taken from a check result, the config or a step's result can start a new line (a
// forged markdown heading or table row in a report) or drive a terminal. Other bytes are kept.
std::string one_line(std::string_view s);

}  // namespace acis::checks
