// The status page served on GET / (SPEC.md "HTTP interface"): one static, self-contained HTML
// document (inline CSS and JS, no external URL of any kind) that fetches `status` (a relative
// URL, same origin) every 5 s and renders every check and target, every open incident with
// its severity, SLA time left (counting down between refreshes) and remediation state, a
// "last updated" line, and an error banner while the daemon does not answer.
//
// Contract:
//  - The document is static: it carries no data and no secret; everything it shows comes from
//    /status, which the daemon already keeps free of passwords and tokens.
//  - Data from /status is only ever inserted with textContent (never innerHTML), and class
//    names are chosen from fixed lists, so a check reason like "<script>..." renders as text.
//  - It works under `Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline';
//    style-src 'unsafe-inline'; connect-src 'self'` and needs nothing more.
//  - It stays under 15 KB (a unit test holds it to that).
#pragma once

#include <string_view>

namespace acis::daemon {

// The page, as UTF-8. The view refers to static storage: valid for the program's lifetime.
std::string_view status_page_html();

// The Content-Security-Policy the page is written for (what GET / should send with it).
std::string_view status_page_csp();

}  // namespace acis::daemon
