// The cross-checks, run once the whole document has been walked (parse_internal.hpp): names
// are unique, dependencies name checks (not themselves, no cycles), and the runbooks, issue
// types and verified checks that the config refers to exist. Each fault sits at the pointer
// of the reference, not of the thing referred to.
#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "config/parse_internal.hpp"

namespace acis::config::detail {

namespace {

using edge_list = std::vector<std::vector<std::pair<std::size_t, std::string>>>;

// Depth-first search in config order; every back edge closes one cycle, reported at the
// depends_on entry that closes it.
void find_cycles(json_walker& w, const config& cfg, const edge_list& edges) {
  enum class mark { fresh, active, done };
  std::vector<mark> marks(edges.size(), mark::fresh);
  std::vector<std::size_t> path;
  std::function<void(std::size_t)> visit = [&](std::size_t u) {
    marks[u] = mark::active;
    path.push_back(u);
    for (const auto& [v, ptr] : edges[u]) {
      if (marks[v] == mark::active) {
        std::string cycle;
        auto start = std::find(path.begin(), path.end(), v);
        for (auto it = start; it != path.end(); ++it) cycle += cfg.checks[*it].name + " -> ";
        cycle += cfg.checks[v].name;
        w.fault(ptr, "dependency cycle: " + cycle);
      } else if (marks[v] == mark::fresh) {
        visit(v);
      }
    }
    path.pop_back();
    marks[u] = mark::done;
  };
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (marks[i] == mark::fresh) visit(i);
  }
}

}  // namespace

void cross_check(json_walker& w, const references& refs, const config& cfg) {
  // Names: first occurrence wins, later duplicates are faults.
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < cfg.checks.size(); ++i) {
    if (!refs.check_sites[i].named) continue;
    auto [it, inserted] = index.emplace(cfg.checks[i].name, i);
    if (!inserted)
      w.fault(child(refs.check_sites[i].ptr, "name"),
              "duplicate check name " + quote(cfg.checks[i].name) + " (first used at " +
                  refs.check_sites[it->second].ptr + ")");
  }

  // Dependencies: known, not self, no cycles.
  edge_list edges(cfg.checks.size());
  for (std::size_t i = 0; i < cfg.checks.size(); ++i) {
    const auto& site = refs.check_sites[i];
    for (const auto& [dep, ptr] : site.depends) {
      auto it = index.find(dep);
      if (it == index.end()) {
        if (refs.check_names_complete && !refs.check_names_seen.contains(dep))
          w.fault(ptr, "depends on " + quote(dep) + ", which is no check");
      } else if (site.named && dep == cfg.checks[i].name) {
        w.fault(ptr, "a check cannot depend on itself");
      } else if (it->second != i) {
        edges[i].emplace_back(it->second, ptr);
      }
    }
  }
  find_cycles(w, cfg, edges);

  for (const auto& ref : refs.check_runbook_refs) {
    if (refs.runbook_names_complete && !refs.runbook_names_seen.contains(ref.name))
      w.fault(ref.ptr,
              "names runbook " + quote(ref.name) + ", which is not defined under /runbooks");
  }
  for (const auto& ref : refs.check_issue_refs) {
    if (refs.escalation_complete && !cfg.escalation.contains(ref.name) &&
        !refs.malformed_escalation.contains(ref.name))
      w.fault(ref.ptr, "issue type " + quote(ref.name) +
                           " has no entry under /escalation (who is to be called?)");
  }
  for (const auto& ref : refs.verify_refs) {
    if (refs.check_names_complete && !refs.check_names_seen.contains(ref.name)) {
      w.fault(ref.ptr, "verifies check " + quote(ref.name) + ", which is no check");
    } else if (const auto* c = cfg.find_check(ref.name);
               c && std::holds_alternative<log_pattern_check>(c->kind)) {
      // A verify run is a fresh check instance, and a fresh log follower starts at the end of
      // the file: it would pass at once whatever the fix did.
      w.fault(ref.ptr, "verifies " + quote(ref.name) +
                           ", a log_pattern check, which cannot "
                           "confirm a fix (it only counts lines written after it starts); verify a "
                           "check that probes what the runbook fixed");
    }
  }
}

}  // namespace acis::config::detail
