#include "daemon/status_page.hpp"

namespace acis::daemon {

namespace {

// Why the script looks the way it does:
//  - Every value from /status goes through textContent (el/txt below) or document.title;
//    class names come from the fixed maps STATE/SEV, never from the data. No innerHTML.
//  - Times are compared on the daemon's clock: `skew` is the daemon's `now` minus the
//    browser's clock at the moment of the answer, so SLA countdowns do not depend on the
//    browser's clock being right, and they keep counting between refreshes (tick, 1 s).
//  - Colour is never the only signal: each state and severity is also a word (and a symbol).
//  - The remediation state is derived as `acis-healthd status` derives it (status_cli.cpp):
//    the incident's last remediation entry on its timeline, and whether the daemon lists the
//    incident under `remediation` (wanting its runbook).
constexpr std::string_view page = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>acis-healthd status</title>
<style>
:root{color-scheme:light dark;--ok:#1a7f37;--deg:#9a6700;--bad:#cf222e;--unk:#6e7781}
body{font:14px/1.45 system-ui,sans-serif;margin:1rem 1.5rem}
h1{font-size:1.35rem;margin:0 0 .25rem}
h2{font-size:1.1rem;margin:1.4rem 0 .4rem}
p{margin:.25rem 0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #8886;vertical-align:top}
thead th{border-bottom:2px solid #888}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.why{overflow-wrap:anywhere;max-width:42rem}
.tag{display:inline-block;padding:0 .45rem;border:1px solid;border-radius:.7rem;font-weight:600;white-space:nowrap}
.ok{color:var(--ok)}.degraded,.medium,.low{color:var(--deg)}.failing,.critical,.high,.late{color:var(--bad)}
.unknown{color:var(--unk)}.late{font-weight:700}
#err{background:var(--bad);color:#fff;padding:.5rem .75rem;border-radius:.3rem;margin:.5rem 0}
.stale{opacity:.55}
.muted{color:var(--unk)}
</style>
</head>
<body>
<header>
<h1 id="title">acis-healthd status</h1>
<p id="meta">Loading the daemon's status&hellip;</p>
<p id="modes"></p>
<div id="err" role="alert" hidden></div>
<p id="updated" class="muted" aria-live="polite"></p>
<p id="summary"></p>
</header>
<main id="main">
<section aria-labelledby="h-inc">
<h2 id="h-inc">Open incidents</h2>
<p id="no-inc" hidden>No open incidents.</p>
<table id="incidents">
<thead><tr><th scope="col">Incident</th><th scope="col">Severity</th><th scope="col">State</th><th scope="col">Check / target</th><th scope="col">SLA</th><th scope="col">Remediation</th><th scope="col">Open for</th><th scope="col">Reason</th></tr></thead>
<tbody></tbody>
</table>
</section>
<section aria-labelledby="h-chk">
<h2 id="h-chk">Checks</h2>
<table id="checks">
<thead><tr><th scope="col">Check</th><th scope="col">Target</th><th scope="col">State</th><th scope="col">Reason</th><th scope="col">Latency</th><th scope="col">Last run</th><th scope="col">Incident</th></tr></thead>
<tbody></tbody>
</table>
</section>
</main>
<noscript><p>This page needs JavaScript. The same data is served as JSON at /status.</p></noscript>
<script>
(function () {
'use strict';
var EVERY = 5000, skew = 0, slas = [], lastOk = null, seen = false;
var STATE = {ok: '\u2714 ok', degraded: '\u25B2 degraded', failing: '\u2716 failing', unknown: '? unknown'};
var SEV = {critical: 1, high: 1, medium: 1, low: 1};
var REM = {remediation_started: 1, step_finished: 1, manual_action: 1, remediation_finished: 1,
           remediation_reset: 1};
function $(id) { return document.getElementById(id); }
function str(v) { return typeof v === 'string' ? v : (typeof v === 'number' || typeof v === 'boolean') ? String(v) : ''; }
function arr(v) { return Array.isArray(v) ? v : []; }
function obj(v) { return v && typeof v === 'object' && !Array.isArray(v) ? v : {}; }
function when(v) { var t = Date.parse(str(v)); return isNaN(t) ? null : t; }
function el(tag, text, cls) {
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function cell(tr, text, cls, tag) { var c = el(tag || 'td', text, cls); tr.appendChild(c); return c; }
function dur(ms) {
  var s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + 's';
  var m = Math.floor(s / 60);
  if (m < 60) return m + 'm ' + (s % 60) + 's';
  var h = Math.floor(m / 60);
  if (h < 48) return h + 'h ' + (m % 60) + 'm';
  return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
}
function daemonNow() { return Date.now() + skew; }
function tag(text, cls) { return el('span', text, 'tag ' + cls); }
function stateTag(s) { var k = STATE[s] ? s : 'unknown'; return tag(STATE[s] || ('? ' + (s || 'unknown')), k); }
function sevTag(s) { return tag(s || 'unknown', SEV[s] ? s : 'unknown'); }

function sla(i, now) {
  var d = when(i.sla_deadline), st = str(i.state);
  if (st === 'acknowledged') {
    var a = when(i.acknowledged_at);
    return (i.sla_breached === true || (a !== null && d !== null && a > d))
      ? ['breached (acknowledged late)', 'late'] : ['met (acknowledged)', 'ok'];
  }
  if (i.sla_breached === true) return [d === null ? 'breached' : 'breached ' + dur(now - d) + ' ago', 'late'];
  if (st === 'suppressed') return ['paused while suppressed', 'unknown'];
  if (d === null) return ['unknown', 'unknown'];
  if (now >= d) return ['breached ' + dur(now - d) + ' ago', 'late'];
  return [dur(d - now) + ' left', d - now < 60000 ? 'late' : ''];
}

function remediation(i, wanting, s) {
  var tl = arr(i.timeline), last = null;
  for (var k = tl.length - 1; k >= 0; k--) {
    var e = obj(tl[k]);
    if (REM[str(e.event)]) { last = e; break; }
  }
  var ev = last ? str(last.event) : '', detail = last ? str(last.detail) : '';
  var rb = wanting.has(str(i.id)) ? wanting.get(str(i.id)) : null;
  if (str(i.state) === 'escalated') return 'gave up: escalated to a person';
  if (ev === 'remediation_started' || ev === 'step_finished' || ev === 'manual_action')
    return 'running' + (detail ? ': ' + detail : rb ? ' runbook ' + rb : '');
  if (rb !== null) {
    var held = s.maintenance === true ? ' (paused: maintenance)'
      : str(i.state) === 'suppressed' ? ' (held: suppressed)' : '';
    if (ev === 'remediation_finished')
      return (detail.indexOf('success') === 0 ? 'attempt succeeded, waiting for the check to recover'
        : 'waiting to retry runbook ' + rb + ' (last attempt: ' + detail + ')') + held;
    return 'waiting to run runbook ' + rb + held;
  }
  if (ev === 'remediation_finished') return 'finished: ' + detail;
  return 'none';
}

function tick() {
  var now = daemonNow();
  slas.forEach(function (x) {
    var r = sla(x.i, now);
    x.c.textContent = r[0];
    x.c.className = 'n ' + r[1];
  });
}

function render(s) {
  s = obj(s);
  var now = when(s.now);
  skew = now === null ? 0 : now - Date.now();
  now = daemonNow();
  $('meta').textContent = 'acis-healthd ' + (str(s.version) || '?') + ' \u00B7 daemon clock ' + (str(s.now) || '?');
  var modes = $('modes');
  modes.textContent = '';
  if (s.dry_run === true) modes.appendChild(tag('DRY RUN: remediation is logged, nothing is executed', 'degraded'));
  if (s.maintenance === true) { modes.appendChild(document.createTextNode(' ')); modes.appendChild(tag('MAINTENANCE: remediation is paused', 'degraded')); }
  var journal = obj(s.journal);
  if (journal.healthy === false) { modes.appendChild(document.createTextNode(' ')); modes.appendChild(tag('JOURNAL DEGRADED: changes are held, not acted on: ' + str(journal.problem), 'failing')); }

  var wanting = new Map();
  arr(s.remediation).forEach(function (r) { r = obj(r); wanting.set(str(r.incident), str(r.runbook)); });

  var counts = {ok: 0, degraded: 0, failing: 0, unknown: 0}, ntargets = 0;
  var tb = el('tbody');
  arr(s.checks).forEach(function (c) {
    c = obj(c);
    var ts = arr(c.targets);
    if (!ts.length) ts = [{state: 'unknown', reason: 'not run yet'}];
    ts.forEach(function (t) {
      t = obj(t);
      var st = STATE[str(t.state)] ? str(t.state) : 'unknown';
      counts[st]++; ntargets++;
      var tr = el('tr');
      cell(tr, str(c.name), '', 'th').scope = 'row';
      cell(tr, str(t.target) || '\u2014');
      cell(tr).appendChild(stateTag(str(t.state)));
      cell(tr, str(t.reason), 'why');
      cell(tr, typeof t.latency_ms === 'number' ? t.latency_ms.toFixed(1) + ' ms' : '\u2014', 'n');
      var at = when(t.last_at), lr = cell(tr, at === null ? 'never' : dur(now - at) + ' ago', 'n');
      if (at !== null) lr.title = str(t.last_at);
      cell(tr, str(t.incident) || '\u2014');
      tb.appendChild(tr);
    });
  });
  $('checks').replaceChild(tb, $('checks').tBodies[0]);

  slas = [];
  var incs = arr(s.incidents), ib = el('tbody');
  incs.forEach(function (i) {
    i = obj(i);
    var tr = el('tr');
    cell(tr, str(i.id), '', 'th').scope = 'row';
    cell(tr).appendChild(sevTag(str(i.severity)));
    var st = str(i.state) || 'unknown';
    if (i.suppressed_by) st += ' by ' + str(i.suppressed_by);
    cell(tr, st);
    cell(tr, str(i.check) + (str(i.target) ? ' / ' + str(i.target) : ''));
    slas.push({i: i, c: cell(tr, '', 'n')});
    cell(tr, remediation(i, wanting, s), 'why');
    var op = when(i.opened_at);
    cell(tr, op === null ? '?' : dur(now - op), 'n');
    cell(tr, str(i.reason), 'why');
    ib.appendChild(tr);
  });
  $('incidents').replaceChild(ib, $('incidents').tBodies[0]);
  $('incidents').hidden = !incs.length;
  $('no-inc').hidden = !!incs.length;
  $('h-inc').textContent = 'Open incidents (' + incs.length + ')';
  $('summary').textContent = ntargets + ' check targets: ' + counts.ok + ' ok, ' + counts.degraded +
    ' degraded, ' + counts.failing + ' failing, ' + counts.unknown + ' unknown \u00B7 ' +
    incs.length + ' open incident' + (incs.length === 1 ? '' : 's');
  document.title = (incs.length ? '(' + incs.length + ') ' : '') + 'acis-healthd status';
  tick();
}

function stamp(t) { return new Date(t).toLocaleTimeString(); }

function load() {
  var ctl = typeof AbortController === 'function' ? new AbortController() : null;
  var guard = setTimeout(function () { if (ctl) ctl.abort(); }, EVERY - 500);
  fetch('status', {cache: 'no-store', headers: {Accept: 'application/json'}, signal: ctl ? ctl.signal : undefined})
    .then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status + ' from /status');
      return r.json();
    })
    .then(function (s) {
      render(s);
      lastOk = Date.now(); seen = true;
      $('err').hidden = true;
      $('main').className = '';
      $('updated').textContent = 'Last updated ' + stamp(lastOk) + '; refreshes every ' + EVERY / 1000 + ' s.';
    })
    .catch(function (e) {
      var msg = e && e.name === 'AbortError' ? 'no answer in time' : str(e && e.message) || 'request failed';
      $('err').textContent = 'Cannot reach acis-healthd (' + msg + '). ' +
        (seen ? 'Showing the data from ' + stamp(lastOk) + '; it may be out of date.' : 'No data yet.') +
        ' Retrying every ' + EVERY / 1000 + ' s.';
      $('err').hidden = false;
      $('main').className = 'stale';
    })
    .then(function () { clearTimeout(guard); setTimeout(load, EVERY); });
}

setInterval(tick, 1000);
load();
})();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view status_page_html() { return page; }

std::string_view status_page_csp() {
  return "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
         "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

}  // namespace acis::daemon
