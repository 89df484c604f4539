// Value helpers of config.hpp: durations, severities, kind names, check defaults, config_error.
#include <gtest/gtest.h>

#include <initializer_list>
#include <limits>
#include <string>

#include "config/config.hpp"

namespace acis::config {
namespace {

using namespace std::chrono_literals;

struct good_duration {
  const char* text;
  duration expected;
};

// Every accepted spelling parses to the exact number of milliseconds.
TEST(parse_duration, accepts_units_and_compounds) {
  const good_duration cases[] = {
      {"500ms", 500ms},  {"0s", 0ms},         {"0ms", 0ms},        {"10s", 10s},
      {"5m", 5min},      {"1h", 1h},          {"2d", 48h},         {"1h30m", 90min},
      {"90s", 90s},      {"1d2h3m4s5ms", 26h + 3min + 4s + 5ms},   {"36h", 36h},
      {"1m500ms", 60500ms}, {"007s", 7s},     {"3650d", 3650 * 24h},
  };
  for (const auto& c : cases) {
    auto d = parse_duration(c.text);
    ASSERT_TRUE(d.has_value()) << c.text;
    EXPECT_EQ(*d, c.expected) << c.text;
  }
}

// Anything that is not digits followed by a unit, in descending unit order, is refused.
TEST(parse_duration, rejects_malformed_negative_and_overflowing_text) {
  const char* cases[] = {
      "",        "10",       "10 seconds", "10 s",    " 10s",   "10s ",       "-5s",
      "+5s",     "1.5s",     "s",          "ms",      "5x",     "10S",        "1H",
      "30m1h",   "1m1m",     "1s1h",       "500ms1s", "1h-30m", "10sec",      "5mm",
      "1d2",     "3651d",    "99999999999999999999s",  "9223372036854775807ms",
      "18446744073709551616ms",
  };
  for (const char* text : cases) {
    EXPECT_FALSE(parse_duration(text).has_value()) << '"' << text << '"';
  }
}

// format_duration prints the unit decomposition, and parse_duration reads it back exactly.
TEST(format_duration, prints_decomposition_that_parses_back) {
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(10s), "10s");
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(48h), "2d");
  EXPECT_EQ(format_duration(1500ms), "1s500ms");
  EXPECT_EQ(format_duration(-2s), "-2s");
  for (duration d : std::initializer_list<duration>{1ms, 999ms, 61s, 3599999ms, 36h, 26h + 3min + 4s + 5ms}) {
    auto text = format_duration(d);
    auto back = parse_duration(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, d) << text;
  }
  // The most negative value must not overflow while being negated.
  EXPECT_EQ(format_duration(duration(std::numeric_limits<duration::rep>::min())).front(), '-');
}

// Severity names round-trip; case and unknown names are refused.
TEST(severity, names_round_trip) {
  for (auto s : all_severities) {
    auto back = parse_severity(to_string(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(to_string(severity::critical), "critical");
  EXPECT_EQ(to_string(severity::low), "low");
  EXPECT_FALSE(parse_severity("CRITICAL").has_value());
  EXPECT_FALSE(parse_severity("urgent").has_value());
  EXPECT_FALSE(parse_severity("").has_value());
}

// kind_name names the alternative held by the variant.
TEST(kind_name, names_every_kind) {
  EXPECT_EQ(kind_name(http_check{}), "http");
  EXPECT_EQ(kind_name(postgres_check{}), "postgres");
  EXPECT_EQ(kind_name(model_metadata_check{}), "model_metadata");
  EXPECT_EQ(kind_name(process_check{}), "process");
  EXPECT_EQ(kind_name(file_age_check{}), "file_age");
}

// The pending interval defaults to interval/4, floored at 100ms and capped at the interval.
TEST(check_config, effective_pending_interval) {
  check_config c;
  c.interval = 10s;
  EXPECT_EQ(c.effective_pending_interval(), 2500ms);
  c.interval = 200ms;
  EXPECT_EQ(c.effective_pending_interval(), 100ms);
  c.interval = 50ms;
  EXPECT_EQ(c.effective_pending_interval(), 50ms);
  c.interval = 10s;
  c.pending_interval = 1s;
  EXPECT_EQ(c.effective_pending_interval(), 1s);
}

// The start grace defaults to interval * fall; an explicit value wins; no overflow.
TEST(check_config, effective_start_grace) {
  check_config c;
  c.interval = 10s;
  c.fall = 3;
  EXPECT_EQ(c.effective_start_grace(), 30s);
  c.start_grace = 0ms;
  EXPECT_EQ(c.effective_start_grace(), 0ms);
  c.start_grace.reset();
  c.interval = duration(std::numeric_limits<duration::rep>::max() / 2);
  EXPECT_EQ(c.effective_start_grace(), duration(std::numeric_limits<duration::rep>::max()));
  EXPECT_EQ(c.effective_window(), 3);
}

// find_check finds by exact name and answers nullptr otherwise.
TEST(config, find_check) {
  config cfg;
  cfg.checks.resize(2);
  cfg.checks[0].name = "database";
  cfg.checks[1].name = "api";
  ASSERT_NE(cfg.find_check("api"), nullptr);
  EXPECT_EQ(cfg.find_check("api"), &cfg.checks[1]);
  EXPECT_EQ(cfg.find_check("API"), nullptr);
  EXPECT_EQ(cfg.find_check(""), nullptr);
}

// what() lists every fault on its own line as "POINTER: message".
TEST(config_error, what_lists_every_fault) {
  config_error e({{"/checks/0/interval", "bad"}, {"", "whole"}, {"/daemon/listen", "worse"}});
  EXPECT_STREQ(e.what(), "/checks/0/interval: bad\n: whole\n/daemon/listen: worse");
  ASSERT_EQ(e.faults().size(), 3u);
  EXPECT_EQ(e.faults()[2].pointer, "/daemon/listen");
}

}  // namespace
}  // namespace acis::config
