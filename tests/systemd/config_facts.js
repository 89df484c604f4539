// The facts about a config that the systemd unit and the polkit rule must agree with, read from
// the config file itself (JSON with // comments, as the daemon reads it).
//
//   node config_facts.js CONFIG      prints them as one JSON object:
//   {"state_dir", "listen", "models_dirs": [...], "max_grace_ms",
//    "systemctl": [{"runbook", "step", "verb", "units": [...]}]}
'use strict';
const fs = require('fs');

// Drops // comments outside strings (urls such as "http://..." are inside strings).
function strip_comments(text) {
  let out = '';
  let in_string = false;
  for (let i = 0; i < text.length; ++i) {
    const c = text[i];
    if (in_string) {
      out += c;
      if (c === '\\') out += text[++i];
      else if (c === '"') in_string = false;
    } else if (c === '"') {
      in_string = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') ++i;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

// "500ms", "10s", "5m", "1h", "2d", "1h30m" -> milliseconds.
function duration_ms(s) {
  const unit = {ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000};
  let total = 0;
  const re = /(\d+)(ms|s|m|h|d)/g;
  let m;
  let seen = 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * unit[m[2]];
    seen += m[0].length;
  }
  if (seen === 0 || seen !== s.length) throw new Error(`not a duration: ${JSON.stringify(s)}`);
  return total;
}

function facts(file) {
  const cfg = JSON.parse(strip_comments(fs.readFileSync(file, 'utf8')));
  const daemon = cfg.daemon || {};
  const out = {
    state_dir: daemon.state_dir || '/var/lib/acis-healthd',
    listen: daemon.listen || '127.0.0.1:9187',
    models_dirs: (cfg.checks || []).filter((c) => c.type === 'model_metadata').map((c) => c.models_dir),
    max_grace_ms: 0,
    systemctl: [],
  };
  for (const [name, rb] of Object.entries(cfg.runbooks || {})) {
    for (const st of rb.steps || []) {
      if (!Array.isArray(st.run)) continue;
      // SPEC default grace of a run step (config.hpp: run_step::grace).
      out.max_grace_ms = Math.max(out.max_grace_ms, st.grace ? duration_ms(st.grace) : 5000);
      if (/(^|\/)systemctl$/.test(st.run[0])) {
        const args = st.run.slice(1).filter((a) => !a.startsWith('-'));
        out.systemctl.push({runbook: name, step: st.name, verb: args[0], units: args.slice(1)});
      }
    }
  }
  return out;
}

module.exports = {facts, strip_comments, duration_ms};

if (require.main === module) {
  if (!process.argv[2]) {
    console.error('usage: config_facts.js CONFIG');
    process.exit(2);
  }
  console.log(JSON.stringify(facts(process.argv[2])));
}
