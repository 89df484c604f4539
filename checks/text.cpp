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

namespace {

// Length of the valid UTF-8 sequence starting at s[k], or 0 when the bytes there are not one.
std::size_t utf8_sequence(std::string_view s, std::size_t k) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(k);
  if (c < 0x80) return 1;
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // the allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // beyond U+10FFFF
  } else {
    return 0;  // continuation byte, C0/C1 lead of an overlong form, F5..FF
  }
  if (k + n > s.size()) return 0;
  if (b(k + 1) < lo || b(k + 1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i)
    if (b(k + i) < 0x80 || b(k + i) > 0xbf) return 0;
  return n;
}

// A valid sequence that is a control character: C0, DEL, C1, LINE/PARAGRAPH SEPARATOR.
bool is_control(std::string_view s, std::size_t k, std::size_t n) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  if (n == 1) return b(k) < 0x20 || b(k) == 0x7f;
  if (n == 2) return b(k) == 0xc2 && b(k + 1) <= 0x9f;
  if (n == 3) return b(k) == 0xe2 && b(k + 1) == 0x80 && (b(k + 2) == 0xa8 || b(k + 2) == 0xa9);
  return false;
}

void escape_byte(std::string& out, unsigned char c) {
  static constexpr char hex[] = "0123456789abcdef";
  out += "\\x";
  out.push_back(hex[c >> 4]);
  out.push_back(hex[c & 0xf]);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is not what target_name_for writes: not canonical
}

}  // namespace

bool valid_utf8(std::string_view s) {
  for (std::size_t k = 0; k < s.size();) {
    const auto n = utf8_sequence(s, k);
    if (n == 0) return false;
    k += n;
  }
  return true;
}

std::string target_name_for(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t k = 0; k < raw.size();) {
    const auto n = utf8_sequence(raw, k);
    if (n == 0) {
      escape_byte(out, static_cast<unsigned char>(raw[k]));
      ++k;
    } else if (is_control(raw, k, n)) {
      for (std::size_t i = 0; i < n; ++i) escape_byte(out, static_cast<unsigned char>(raw[k + i]));
      k += n;
    } else if (raw[k] == '\\') {
      out += "\\\\";
      ++k;
    } else {
      out.append(raw.substr(k, n));
      k += n;
    }
  }
  return out;
}

std::optional<std::string> raw_name_of(std::string_view target) {
  std::string raw;
  raw.reserve(target.size());
  for (std::size_t k = 0; k < target.size(); ++k) {
    if (target[k] != '\\') {
      raw.push_back(target[k]);
      continue;
    }
    if (k + 1 < target.size() && target[k + 1] == '\\') {
      raw.push_back('\\');
      ++k;
    } else if (k + 3 < target.size() && target[k + 1] == 'x' && hex_value(target[k + 2]) >= 0 &&
               hex_value(target[k + 3]) >= 0) {
      raw.push_back(static_cast<char>(hex_value(target[k + 2]) * 16 + hex_value(target[k + 3])));
      k += 3;
    } else {
      return std::nullopt;
    }
  }
  // Canonical only: a name with a raw invalid byte, or an escape of a byte that needed none,
  // is not one target_name_for gives, so two spellings can never name one folder.
  if (target_name_for(raw) != target) return std::nullopt;
  return raw;
}

}  // namespace acis::checks
