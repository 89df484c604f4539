#include "checks/text.hpp"

namespace acis::checks {

std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t k = 0; k < s.size(); ++k) {
    const auto c = static_cast<unsigned char>(s[k]);
    if (c < 0x20 || c == 0x7f) {
      out.push_back(' ');
    } else if (c == 0xc2 && k + 1 < s.size() && static_cast<unsigned char>(s[k + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[k + 1]) <= 0x9f) {
      out.push_back(' ');  // C1 control, e.g. U+0085 NEXT LINE, U+009B CSI
      ++k;
    } else if (c == 0xe2 && k + 2 < s.size() && static_cast<unsigned char>(s[k + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[k + 2]) == 0xa8 ||
                static_cast<unsigned char>(s[k + 2]) == 0xa9)) {
      out.push_back(' ');  // LINE / PARAGRAPH SEPARATOR
      k += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace acis::checks
