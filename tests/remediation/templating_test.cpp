// Placeholder expansion in runbook step arguments: values that could inject, split, climb out
// of a folder or pass as options are refused before anything is built.
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "remediation/templating.hpp"

using acis::remediation::expand;
using acis::remediation::expand_all;
using acis::remediation::is_within;
using acis::remediation::shown_value;
using acis::remediation::template_error;
using acis::remediation::template_use;
using acis::remediation::template_values;

namespace {

template_values incident_values() {
  return {{{"check", "model_metrics"},
           {"target", "resnet-2024"},
           {"model", "resnet-2024"},
           {"backup", "backup_20240101T000000Z"},
           {"incident", "INC-000042"},
           {"severity", "high"}}};
}

template_values with(std::string name, std::string value) {
  auto v = incident_values();
  v.values[std::move(name)] = std::move(value);
  return v;
}

std::string ok(const std::variant<std::string, template_error>& r) {
  if (auto* e = std::get_if<template_error>(&r)) {
    ADD_FAILURE() << "unexpected refusal: " << e->message();
    return {};
  }
  return std::get<std::string>(r);
}

template_error refused(const std::variant<std::string, template_error>& r) {
  if (auto* s = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << "expected a refusal, got \"" << *s << "\"";
    return {};
  }
  return std::get<template_error>(r);
}

}  // namespace

// Every placeholder is replaced inside its element; the text around it stays as written.
TEST(templating, substitutes_every_placeholder_in_place) {
  auto v = incident_values();
  EXPECT_EQ(ok(expand("/srv/models/{model}/metadata.json", v)),
            "/srv/models/resnet-2024/metadata.json");
  EXPECT_EQ(ok(expand("--incident={incident}", v)), "--incident=INC-000042");
  EXPECT_EQ(ok(expand("{check}:{target}:{severity}:{backup}", v)),
            "model_metrics:resnet-2024:high:backup_20240101T000000Z");
  EXPECT_EQ(ok(expand("{model}{model}", v)), "resnet-2024resnet-2024");
  EXPECT_EQ(ok(expand("no placeholders at all", v)), "no placeholders at all");
  EXPECT_EQ(ok(expand("", v)), "");
}

// An argv keeps its shape: a value is never split into more elements nor joined with others.
TEST(templating, expand_all_keeps_one_element_per_argument) {
  auto r = expand_all({"/usr/bin/systemctl", "restart", "acis-{target}.service", "{incident}"},
                      incident_values());
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(r));
  EXPECT_EQ(std::get<std::vector<std::string>>(r),
            (std::vector<std::string>{"/usr/bin/systemctl", "restart", "acis-resnet-2024.service",
                                      "INC-000042"}));
}

// "{{" and "}}" are literal braces, and braces that do not form a placeholder stay as written
// (config validation accepts them, e.g. JSON in an argument).
TEST(templating, literal_braces) {
  auto v = incident_values();
  EXPECT_EQ(ok(expand("{{model}}", v)), "{model}");
  EXPECT_EQ(ok(expand("{{{model}}}", v)), "{resnet-2024}");
  EXPECT_EQ(ok(expand(R"({"incident": "{incident}"})", v)), R"({"incident": "INC-000042"})");
  EXPECT_EQ(ok(expand("a { b } c {} {Model} {", v)), "a { b } c {} {Model} {");
  EXPECT_EQ(ok(expand("}", v)), "}");
}

// A placeholder that is not one of the six, or whose value this incident lacks, is an error.
TEST(templating, unknown_and_absent_placeholders_are_errors) {
  auto e = refused(expand("--x={foo}", incident_values()));
  EXPECT_EQ(e.placeholder, "foo");
  EXPECT_NE(e.reason.find("unknown"), std::string::npos);

  template_values no_model = incident_values();
  no_model.values.erase("model");
  e = refused(expand("/srv/models/{model}", no_model));
  EXPECT_EQ(e.placeholder, "model");
  EXPECT_NE(e.message().find("{model}"), std::string::npos);
  // Unused absent values do not matter.
  EXPECT_EQ(ok(expand("{check}", no_model)), "model_metrics");
}

// Shell metacharacters, spaces, newlines, command substitution: refused in every use.
TEST(templating, refuses_values_outside_the_character_set) {
  for (const std::string& bad : std::vector<std::string>{"a;rm -rf /", "two words", "$(reboot)", "`id`", "a\nb", "a\rb",
                          "x|y", "x&y", "x>y", "q'uote", "q\"uote", "star*", "tab\there",
                          std::string("nul\0byte", 8), "caf\xc3\xa9", "{model}", "a,b", "~root",
                          "100%", "a=b"}) {
    for (auto use : {template_use::argument, template_use::url, template_use::text}) {
      auto e = refused(expand("prefix-{check}", with("check", bad), use));
      EXPECT_EQ(e.placeholder, "check") << bad;
      EXPECT_NE(e.reason.find("outside [A-Za-z0-9._:@/-]"), std::string::npos) << e.reason;
    }
  }
}

// A value may not be empty nor longer than one folder entry may be.
TEST(templating, refuses_empty_and_overlong_values) {
  EXPECT_NE(refused(expand("{target}", with("target", ""))).reason.find("empty"),
            std::string::npos);
  EXPECT_EQ(ok(expand("{target}", with("target", std::string(255, 'a')))), std::string(255, 'a'));
  auto e = refused(expand("{target}", with("target", std::string(256, 'a'))));
  EXPECT_NE(e.reason.find("256 bytes"), std::string::npos);
  EXPECT_LE(e.value.size(), 64u + 20u);  // shown bounded
}

// Folder-entry placeholders cannot name another folder, the parent, or pass as an option.
TEST(templating, path_components_cannot_escape_their_folder) {
  for (std::string name : {"target", "model", "backup"}) {
    for (std::string bad : {"..", ".", "../etc", "a/b", "/etc/passwd", "x/../../y", "-rf",
                            "--force"}) {
      auto e = refused(expand("/srv/models/{" + name + "}/metadata.json", with(name, bad)));
      EXPECT_EQ(e.placeholder, name) << bad;
    }
  }
  // Dots inside a name are fine: they are not path steps.
  EXPECT_EQ(ok(expand("{model}", with("model", "v1..2"))), "v1..2");
  EXPECT_EQ(ok(expand("{model}", with("model", ".hidden"))), ".hidden");
  EXPECT_EQ(ok(expand("{model}", with("model", "model.v2-final_3"))), "model.v2-final_3");
}

// The other placeholders may hold '/', but never a ".." step nor a leading '-'.
TEST(templating, identifiers_refuse_dotdot_segments_and_options) {
  EXPECT_EQ(ok(expand("{check}", with("check", "api/health"))), "api/health");
  for (std::string bad : {"..", "a/..", "../a", "a/../b"})
    EXPECT_NE(refused(expand("{check}", with("check", bad))).reason.find("'..'"),
              std::string::npos) << bad;
  for (std::string name : {"check", "incident", "severity"}) {
    auto e = refused(expand("{" + name + "}", with(name, "-oProxyCommand")));
    EXPECT_NE(e.reason.find("option"), std::string::npos);
  }
}

// Refusals say where and why without copying a dangerous value raw into the log.
TEST(templating, error_messages_escape_and_bound_the_value) {
  std::string evil = "x\n2024-01-01 level=info msg=\"forged\"\x1b[2J" + std::string(200, 'A');
  auto r = expand_all({"/bin/echo", "ok", "--model={model}"}, with("model", evil));
  ASSERT_TRUE(std::holds_alternative<template_error>(r));
  const auto& e = std::get<template_error>(r);
  EXPECT_EQ(e.element, 2u);
  auto m = e.message();
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_EQ(m.find('\x1b'), std::string::npos);
  EXPECT_NE(m.find("argv[2]"), std::string::npos);
  EXPECT_NE(m.find("{model}"), std::string::npos);
  EXPECT_NE(m.find("\\x0a"), std::string::npos);
  EXPECT_NE(m.find("(" + std::to_string(evil.size()) + " bytes)"), std::string::npos);
  EXPECT_LT(m.size(), 250u);

  EXPECT_EQ(shown_value("a\"b\\c\x7f"), "a\\\"b\\\\c\\x7f");
  EXPECT_EQ(shown_value(std::string(64, 'z')), std::string(64, 'z'));
  EXPECT_EQ(shown_value(std::string(65, 'z')), std::string(64, 'z') + "...(65 bytes)");
  // An escape sequence is never cut in half at the bound.
  EXPECT_EQ(shown_value(std::string(62, 'z') + "\n"), std::string(62, 'z') + "...(63 bytes)");
}

// URLs: a value cannot climb out of the URL path it names, but a leading '-' is harmless there;
// text (notify, manual) only needs the character rule.
TEST(templating, url_and_text_uses) {
  auto url = [](std::string name, std::string value) {
    return expand("http://127.0.0.1:8080/models/{" + name + "}/reload", with(name, value),
                  template_use::url);
  };
  EXPECT_EQ(ok(url("model", "resnet-2024")), "http://127.0.0.1:8080/models/resnet-2024/reload");
  EXPECT_EQ(ok(url("model", "-old")), "http://127.0.0.1:8080/models/-old/reload");
  refused(url("model", ".."));
  refused(url("model", "a/b"));
  refused(url("check", "x/../../admin"));
  refused(url("model", "a?b"));
  refused(url("model", "a#b"));
  refused(url("model", "a%2e%2e"));

  EXPECT_EQ(ok(expand("Roll back {model} by hand ({incident})", with("model", "-weird"),
                      template_use::text)),
            "Roll back -weird by hand (INC-000042)");
  EXPECT_EQ(ok(expand("{model}", with("model", ".."), template_use::text)), "..");
  refused(expand("{model}", with("model", "a\nb"), template_use::text));
}

// The first refusal stops expand_all: no partially expanded argv is returned.
TEST(templating, expand_all_refuses_the_whole_argv) {
  auto r = expand_all({"/bin/rm", "-rf", "/srv/models/{model}"}, with("model", ".."));
  ASSERT_TRUE(std::holds_alternative<template_error>(r));
  EXPECT_EQ(std::get<template_error>(r).element, 2u);
}

// is_within: lexical containment, strictly below the base, ".." escapes caught.
TEST(is_within, lexical_containment) {
  EXPECT_TRUE(is_within("/srv/models", "/srv/models/resnet"));
  EXPECT_TRUE(is_within("/srv/models/", "/srv/models/resnet/metadata.json"));
  EXPECT_TRUE(is_within("/srv/models", "/srv/models/./resnet/"));
  EXPECT_TRUE(is_within("/srv/models", "resnet"));  // relative to the base
  EXPECT_TRUE(is_within("/srv/models", "a/../b"));
  EXPECT_TRUE(is_within("/", "/etc"));

  EXPECT_FALSE(is_within("/srv/models", "/srv/models"));
  EXPECT_FALSE(is_within("/srv/models", "/srv/models/"));
  EXPECT_FALSE(is_within("/srv/models", "/srv/models/."));
  EXPECT_FALSE(is_within("/srv/models", "/srv/models/resnet/.."));
  EXPECT_FALSE(is_within("/srv/models", "/srv/models/.."));
  EXPECT_FALSE(is_within("/srv/models", "/srv/models/../etc/passwd"));
  EXPECT_FALSE(is_within("/srv/models", "/srv/models/a/../../etc"));
  EXPECT_FALSE(is_within("/srv/models", ".."));
  EXPECT_FALSE(is_within("/srv/models", "../models/x/../../etc"));
  EXPECT_FALSE(is_within("/srv/models", "/srv/models-evil/x"));  // a prefix of the text only
  EXPECT_FALSE(is_within("/srv/models", "/etc/passwd"));
  EXPECT_FALSE(is_within("/srv/models", ""));
  EXPECT_FALSE(is_within("", "/srv/models/x"));

  EXPECT_TRUE(is_within("models", "models/x"));  // relative candidate below a relative base
  EXPECT_TRUE(is_within(".", "x"));
  EXPECT_FALSE(is_within(".", "../x"));
  EXPECT_FALSE(is_within(".", "."));
  EXPECT_FALSE(is_within("models", "/models/x"));
  EXPECT_FALSE(is_within("../models", "x"));
}

// A model folder named to escape never yields a path outside the models folder.
TEST(is_within, templated_model_paths_stay_in_their_folder) {
  const std::filesystem::path models = "/srv/models";
  for (std::string name : {"..", ".", "../../etc", "a/../..", "-rf", "x;y", "a\nb"}) {
    auto r = expand("{model}", with("model", name));
    EXPECT_TRUE(std::holds_alternative<template_error>(r)) << name;
  }
  for (std::string name : {"resnet", "v1..2", ".hidden", "a.b-c_d"}) {
    auto s = ok(expand("{model}", with("model", name)));
    EXPECT_TRUE(is_within(models, models / s)) << name;
  }
}
