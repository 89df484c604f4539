// Target names for raw names (checks/text.hpp): valid UTF-8, reversible, deterministic.
#include <string>

#include <gtest/gtest.h>

#include "checks/text.hpp"

using acis::checks::raw_name_of;
using acis::checks::target_name_for;
using acis::checks::valid_utf8;

namespace {

// Plain ASCII and valid UTF-8 names are their own target names.
TEST(target_name, plain_and_utf8_names_are_unchanged) {
  for (std::string n : {"growth_large", "value-small.v2", "café", "модель", "模型", "😀"}) {
    EXPECT_EQ(target_name_for(n), n);
    EXPECT_EQ(raw_name_of(n), n);
  }
  EXPECT_EQ(target_name_for(""), "");
}

// Invalid bytes, control characters and backslashes are escaped; the result is valid UTF-8
// and raw_name_of gives back the exact bytes.
TEST(target_name, escapes_round_trip) {
  EXPECT_EQ(target_name_for("a\xff" "b"), "a\\xffb");
  EXPECT_EQ(target_name_for("a\\b"), "a\\\\b");
  EXPECT_EQ(target_name_for("tab\there"), "tab\\x09here");
  EXPECT_EQ(target_name_for("nl\n"), "nl\\x0a");
  EXPECT_EQ(target_name_for("del\x7f"), "del\\x7f");
  EXPECT_EQ(target_name_for("c1\xc2\x85"), "c1\\xc2\\x85");        // NEXT LINE
  EXPECT_EQ(target_name_for("ls\xe2\x80\xa8"), "ls\\xe2\\x80\\xa8");  // LINE SEPARATOR
  EXPECT_EQ(target_name_for("\xc0\xaf"), "\\xc0\\xaf");               // overlong '/'
  EXPECT_EQ(target_name_for("\xed\xa0\x80"), "\\xed\\xa0\\x80");      // surrogate
  EXPECT_EQ(target_name_for("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
  EXPECT_EQ(target_name_for("cut\xe2\x82"), "cut\\xe2\\x82");          // truncated
  EXPECT_EQ(target_name_for("lit\\xff"), "lit\\\\xff");  // a literal "\xff" stays distinct
  // Every byte value, alone and between letters.
  for (int c = 0; c < 256; ++c) {
    const std::string raw = "m" + std::string(1, static_cast<char>(c)) + "n";
    const auto t = target_name_for(raw);
    EXPECT_TRUE(valid_utf8(t)) << c;
    EXPECT_EQ(raw_name_of(t), raw) << c;
    EXPECT_EQ(target_name_for(raw), t) << c;  // deterministic
  }
}

// Names target_name_for never gives are refused, so two spellings never name one folder.
TEST(target_name, non_canonical_names_are_refused) {
  EXPECT_EQ(raw_name_of("a\\"), std::nullopt);        // lone backslash
  EXPECT_EQ(raw_name_of("a\\q"), std::nullopt);       // unknown escape
  EXPECT_EQ(raw_name_of("a\\xf"), std::nullopt);      // short escape
  EXPECT_EQ(raw_name_of("a\\xFF"), std::nullopt);     // uppercase hex
  EXPECT_EQ(raw_name_of("a\\x41"), std::nullopt);     // "A" needed no escape
  EXPECT_EQ(raw_name_of("a\xff"), std::nullopt);      // a raw invalid byte
  EXPECT_EQ(raw_name_of("a\\xc3\\xa9"), std::nullopt);  // "é" is valid: written as is
}

// valid_utf8 accepts exactly well-formed UTF-8.
TEST(target_name, valid_utf8_checks_well_formedness) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("caf\xc3\xa9"));
  EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8("\xc3"));
  EXPECT_FALSE(valid_utf8("\xe0\x80\x80"));
}

}  // namespace
