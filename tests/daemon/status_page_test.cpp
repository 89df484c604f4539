// The status page document on its own: self-contained (no external URL, no src/href, no
// CSS import), small, XSS-safe by construction (no HTML-parsing sinks), accessible tables,
// and a CSP that forbids everything it does not use. What it shows is proved in a browser by
// tests/e2e/status_page_e2e_test.cpp.
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "daemon/status_page.hpp"

namespace {

using acis::daemon::status_page_csp;
using acis::daemon::status_page_html;

bool has(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

int count(std::string_view hay, std::string_view needle) {
  int n = 0;
  for (auto at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

// Nothing on the page can load from elsewhere: no scheme, no protocol-relative "//", no src or
// href attribute, no CSS url() or @import; the only request is the relative fetch of status.
TEST(status_page, is_self_contained) {
  const auto page = status_page_html();
  EXPECT_FALSE(has(page, "http:"));
  EXPECT_FALSE(has(page, "https:"));
  EXPECT_FALSE(has(page, "//")) << "a protocol-relative URL (or a // comment that may hide one)";
  EXPECT_FALSE(has(page, "src="));
  EXPECT_FALSE(has(page, "href="));
  EXPECT_FALSE(has(page, "url("));
  EXPECT_FALSE(has(page, "@import"));
  EXPECT_FALSE(has(page, "<link"));
  EXPECT_FALSE(has(page, "<iframe"));
  EXPECT_FALSE(has(page, "<img"));
  EXPECT_EQ(count(page, "fetch("), 1);
  EXPECT_TRUE(has(page, "fetch('status'")) << "the data comes from the same origin, relative URL";
}

// The page stays small (the brief's bound: under 15 KB) and is one complete document.
TEST(status_page, is_one_small_document) {
  const auto page = status_page_html();
  EXPECT_LT(page.size(), 15u * 1024u);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(has(page, "<meta charset=\"utf-8\">"));
  EXPECT_EQ(count(page, "<script>"), 1);
  EXPECT_EQ(count(page, "</script>"), 1);
  EXPECT_EQ(count(page, "<style>"), 1);
  EXPECT_TRUE(has(page, "</html>"));
}

// Data can only reach the DOM as text: none of the HTML-parsing or code-evaluating sinks is
// used anywhere in the script.
TEST(status_page, uses_no_html_sinks) {
  const auto page = status_page_html();
  for (const auto* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                           "new Function", "setAttribute('on", "createContextualFragment",
                           "DOMParser", ".srcdoc"})
    EXPECT_FALSE(has(page, sink)) << sink;
  EXPECT_TRUE(has(page, "textContent"));
}

// Real tables with header cells scoped to columns and rows, an alert region for the error
// banner, a live region for the update line, and a lang attribute.
TEST(status_page, is_accessible_markup) {
  const auto page = status_page_html();
  EXPECT_EQ(count(page, "<table"), 2);
  EXPECT_GE(count(page, "<th scope=\"col\">"), 14);
  EXPECT_TRUE(has(page, "scope = 'row'"));
  EXPECT_TRUE(has(page, "role=\"alert\""));
  EXPECT_TRUE(has(page, "aria-live=\"polite\""));
  EXPECT_TRUE(has(page, "<html lang=\"en\">"));
  // Each state is a word as well as a colour.
  for (const auto* word : {"ok'", "degraded'", "failing'", "unknown'"}) EXPECT_TRUE(has(page, word)) << word;
}

// The CSP the page is written for allows inline script and style and same-origin fetches only:
// no eval, no other origin, no framing, no base or form targets.
TEST(status_page, csp_allows_only_what_the_page_uses) {
  const std::string csp(status_page_csp());
  EXPECT_EQ(csp.rfind("default-src 'none';", 0), 0u) << csp;
  EXPECT_TRUE(has(csp, "script-src 'unsafe-inline'"));
  EXPECT_TRUE(has(csp, "style-src 'unsafe-inline'"));
  EXPECT_TRUE(has(csp, "connect-src 'self'"));
  EXPECT_TRUE(has(csp, "frame-ancestors 'none'"));
  EXPECT_FALSE(has(csp, "unsafe-eval"));
  EXPECT_FALSE(has(csp, "*"));
  EXPECT_FALSE(has(csp, "http"));
}
