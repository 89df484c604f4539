// parse_config() for the keys of issue 8: the "remediation" section (the policy's hourly caps,
// remediation.max_runs_per_hour and remediation.max_runs_per_hour_total) and a verify step's
// "stable_for". Defaults, valid values, and every fault class with its exact JSON pointer.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.hpp"

namespace acis::config {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// A small valid config with a run step (steps/0) and a verify step (steps/1).
json base() {
  return json::parse(R"({
    "checks": [
      {"name": "db", "type": "postgres", "conninfo": "host=127.0.0.1 dbname=acis-ai user=postgres",
       "password_env": "PGPASSWORD", "runbook": "fix-db"}
    ],
    "runbooks": {
      "fix-db": {"steps": [
        {"name": "restart", "run": ["/usr/bin/systemctl", "restart", "postgresql"]},
        {"name": "verify", "verify": "db", "within": "30s"}
      ]}
    }
  })");
}

json& verify_step_of(json& doc) { return doc["runbooks"]["fix-db"]["steps"][1]; }

std::vector<config_fault> faults_of(const json& doc) {
  try {
    parse_config(doc.dump());
  } catch (const config_error& e) {
    return e.faults();
  }
  return {};
}

std::string listing(const std::vector<config_fault>& faults) {
  std::string out;
  for (const auto& f : faults) out += "\n  " + f.to_string();
  return out.empty() ? " (none)" : out;
}

// Exactly one fault, at `pointer`, whose message contains `words`.
::testing::AssertionResult single_fault(const json& doc, const std::string& pointer,
                                        const std::string& words) {
  auto faults = faults_of(doc);
  if (faults.size() != 1)
    return ::testing::AssertionFailure()
           << "expected one fault, got " << faults.size() << ":" << listing(faults);
  if (faults[0].pointer != pointer || faults[0].message.find(words) == std::string::npos)
    return ::testing::AssertionFailure()
           << "expected a fault at \"" << pointer << "\" mentioning \"" << words
           << "\", got:" << listing(faults);
  return ::testing::AssertionSuccess();
}

const verify_step& parsed_verify(const config& cfg) {
  return std::get<verify_step>(cfg.runbooks.at("fix-db").steps.at(1).action);
}

// ---- remediation caps -----------------------------------------------------------------------

// Without a "remediation" section the caps are the policy's former hidden limits, 6 and 20.
TEST(remediation_caps, default_to_6_per_runbook_and_20_in_total) {
  auto cfg = parse_config(base().dump());
  EXPECT_EQ(cfg.remediation.max_runs_per_hour, 6);
  EXPECT_EQ(cfg.remediation.max_runs_per_hour_total, 20);
  EXPECT_EQ(cfg.remediation, remediation_config{});
}

// An empty section, or one that sets only one cap, leaves the other at its default.
TEST(remediation_caps, each_key_is_optional) {
  auto doc = base();
  doc["remediation"] = json::object();
  EXPECT_EQ(parse_config(doc.dump()).remediation, remediation_config{});
  doc["remediation"] = {{"max_runs_per_hour", 2}};
  auto cfg = parse_config(doc.dump());
  EXPECT_EQ(cfg.remediation.max_runs_per_hour, 2);
  EXPECT_EQ(cfg.remediation.max_runs_per_hour_total, 20);
  doc["remediation"] = {{"max_runs_per_hour_total", 50}};
  cfg = parse_config(doc.dump());
  EXPECT_EQ(cfg.remediation.max_runs_per_hour, 6);
  EXPECT_EQ(cfg.remediation.max_runs_per_hour_total, 50);
}

// Set values land in config.remediation, the bounds 1 and 3600 included.
TEST(remediation_caps, reads_valid_values) {
  auto doc = base();
  doc["remediation"] = {{"max_runs_per_hour", 1}, {"max_runs_per_hour_total", 3600}};
  auto cfg = parse_config(doc.dump());
  EXPECT_EQ(cfg.remediation.max_runs_per_hour, 1);
  EXPECT_EQ(cfg.remediation.max_runs_per_hour_total, 3600);
  doc["remediation"] = {{"max_runs_per_hour", 3}, {"max_runs_per_hour_total", 12}};
  cfg = parse_config(doc.dump());
  EXPECT_EQ(cfg.remediation, (remediation_config{3, 12}));
}

// "remediation" must be an object.
TEST(remediation_caps, section_must_be_an_object) {
  auto doc = base();
  doc["remediation"] = 6;
  EXPECT_TRUE(single_fault(doc, "/remediation", "expected an object, got the number 6"));
}

// A cap that is not an integer (a string, a fraction, a boolean, null) is refused at its key.
TEST(remediation_caps, cap_must_be_an_integer) {
  for (const json& bad : {json("6"), json(2.5), json(true), json(nullptr)}) {
    auto doc = base();
    doc["remediation"] = {{"max_runs_per_hour", bad}};
    EXPECT_TRUE(single_fault(doc, "/remediation/max_runs_per_hour", "expected an integer"))
        << bad.dump();
    doc["remediation"] = {{"max_runs_per_hour_total", bad}};
    EXPECT_TRUE(single_fault(doc, "/remediation/max_runs_per_hour_total", "expected an integer"))
        << bad.dump();
  }
}

// A cap below 1 is refused (0 would block every run; the policy's "<= 0: no limit" is not
// reachable from the config).
TEST(remediation_caps, cap_must_be_at_least_1) {
  auto doc = base();
  doc["remediation"] = {{"max_runs_per_hour", 0}};
  EXPECT_TRUE(single_fault(doc, "/remediation/max_runs_per_hour", "must be at least 1, got 0"));
  doc["remediation"] = {{"max_runs_per_hour_total", -3}};
  EXPECT_TRUE(
      single_fault(doc, "/remediation/max_runs_per_hour_total", "must be at least 1, got -3"));
}

// A cap above 3600 (one start a second) is refused rather than silently meaning "no cap".
TEST(remediation_caps, cap_has_an_upper_bound) {
  auto doc = base();
  doc["remediation"] = {{"max_runs_per_hour", 3601}};
  EXPECT_TRUE(
      single_fault(doc, "/remediation/max_runs_per_hour", "must be at most 3600, got 3601"));
  doc["remediation"] = {{"max_runs_per_hour_total", 18446744073709551615u}};
  EXPECT_TRUE(single_fault(doc, "/remediation/max_runs_per_hour_total", "must be at most 3600"));
}

// An unknown key under /remediation is refused at its pointer with the closest key suggested.
TEST(remediation_caps, unknown_key_with_suggestion) {
  auto doc = base();
  doc["remediation"] = {{"max_run_per_hour", 3}};
  EXPECT_TRUE(
      single_fault(doc, "/remediation/max_run_per_hour",
                   "unknown key \"max_run_per_hour\" (did you mean \"max_runs_per_hour\"?)"));
  doc["remediation"] = {{"max_runs_per_hour_totl", 3}};
  EXPECT_TRUE(single_fault(doc, "/remediation/max_runs_per_hour_totl",
                           "(did you mean \"max_runs_per_hour_total\"?)"));
  doc["remediation"] = {{"cooldown", "10m"}};
  EXPECT_TRUE(single_fault(doc, "/remediation/cooldown",
                           "unknown key \"cooldown\" (expected one of \"max_runs_per_hour\" or "
                           "\"max_runs_per_hour_total\")"));
}

// A misspelt section name is an unknown top-level key that suggests "remediation".
TEST(remediation_caps, misspelt_section_suggests_remediation) {
  auto doc = base();
  doc["remediaton"] = {{"max_runs_per_hour", 3}};
  EXPECT_TRUE(single_fault(doc, "/remediaton", "did you mean \"remediation\"?"));
}

// Both caps' faults are reported in one run, each at its own pointer.
TEST(remediation_caps, reports_both_faults_at_once) {
  auto doc = base();
  doc["remediation"] = {{"max_runs_per_hour", 0}, {"max_runs_per_hour_total", "x"}};
  auto faults = faults_of(doc);
  ASSERT_EQ(faults.size(), 2u) << listing(faults);
  EXPECT_EQ(faults[0].pointer, "/remediation/max_runs_per_hour");
  EXPECT_EQ(faults[1].pointer, "/remediation/max_runs_per_hour_total");
}

// ---- stable_for on a verify step -------------------------------------------------------------

// A verify step without stable_for has none (the engine then uses the check's rise).
TEST(verify_stable_for, absent_by_default) {
  auto cfg = parse_config(base().dump());
  EXPECT_FALSE(parsed_verify(cfg).stable_for.has_value());
  EXPECT_EQ(parsed_verify(cfg).within, 30s);
}

// A valid stable_for is stored next to within, including one equal to within.
TEST(verify_stable_for, reads_valid_values) {
  auto doc = base();
  verify_step_of(doc)["stable_for"] = "5s";
  auto cfg = parse_config(doc.dump());
  EXPECT_EQ(parsed_verify(cfg).stable_for, std::optional<duration>(5s));
  EXPECT_EQ(parsed_verify(cfg).within, 30s);
  EXPECT_EQ(parsed_verify(cfg).check, "db");

  verify_step_of(doc)["stable_for"] = "30s";
  EXPECT_EQ(parsed_verify(parse_config(doc.dump())).stable_for, std::optional<duration>(30s));
}

// Without within, stable_for is bounded by the default within (30s).
TEST(verify_stable_for, bounded_by_the_default_within) {
  auto doc = base();
  verify_step_of(doc).erase("within");
  verify_step_of(doc)["stable_for"] = "500ms";
  EXPECT_EQ(parsed_verify(parse_config(doc.dump())).stable_for, std::optional<duration>(500ms));
  verify_step_of(doc)["stable_for"] = "1m";
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/1/stable_for",
                           "stable_for (1m) must not be longer than within (30s, the default)"));
}

// stable_for that is not a duration is refused at its pointer.
TEST(verify_stable_for, must_be_a_duration) {
  for (const json& bad : {json("5 seconds"), json(5), json(""), json(nullptr)}) {
    auto doc = base();
    verify_step_of(doc)["stable_for"] = bad;
    EXPECT_TRUE(single_fault(
        doc, "/runbooks/fix-db/steps/1/stable_for",
        "expected a duration like \"10s\", got " + (bad.is_number() ? "the number 5" : bad.dump())))
        << bad.dump();
  }
}

// stable_for of zero is refused: it would be no stability requirement at all.
TEST(verify_stable_for, must_be_longer_than_zero) {
  auto doc = base();
  verify_step_of(doc)["stable_for"] = "0s";
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/1/stable_for", "must be longer than 0s"));
}

// stable_for longer than within is refused at stable_for, naming both durations.
TEST(verify_stable_for, must_not_be_longer_than_within) {
  auto doc = base();
  verify_step_of(doc)["within"] = "10s";
  verify_step_of(doc)["stable_for"] = "10s1ms";
  auto faults = faults_of(doc);
  ASSERT_EQ(faults.size(), 1u) << listing(faults);
  EXPECT_EQ(faults[0].pointer, "/runbooks/fix-db/steps/1/stable_for");
  EXPECT_EQ(faults[0].message,
            "stable_for (10s1ms) must not be longer than within (10s): the check must have kept "
            "passing that long before the step's bound runs out");
}

// A refused within is the one fault: stable_for is not compared with a value that was refused.
TEST(verify_stable_for, not_compared_with_a_bad_within) {
  auto doc = base();
  verify_step_of(doc)["within"] = "soon";
  verify_step_of(doc)["stable_for"] = "1h";
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/1/within", "expected a duration"));
}

// stable_for on a step that is not a verify step is an unknown key saying where it belongs.
TEST(verify_stable_for, refused_on_other_step_kinds) {
  auto doc = base();
  doc["runbooks"]["fix-db"]["steps"][0]["stable_for"] = "5s";
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/0/stable_for",
                           "unknown key \"stable_for\" (it belongs to \"verify\" steps, not to "
                           "\"run\" steps)"));
  doc = base();
  doc["runbooks"]["fix-db"]["steps"].push_back(
      {{"name", "pause"}, {"wait", "1s"}, {"stable_for", "1s"}});
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/2/stable_for",
                           "(it belongs to \"verify\" steps, not to \"wait\" steps)"));
}

}  // namespace
}  // namespace acis::config
