// Proves the polkit rule parses as ES5 (polkitd runs rules in Duktape) and, evaluated the way
// polkitd evaluates it, lets acis-healthd start/stop/restart exactly the platform's units,
// refuses every other request of that user, leaves other users to the other rules, and allows
// every `systemctl` step of the given config.
//
//   NODE_PATH=/usr/share/nodejs node polkit_rule_test.js RULES_FILE [CONFIG]
// Exit 0 when every case holds; 1 with one line per failed case otherwise.
'use strict';
const fs = require('fs');
const vm = require('vm');

const file = process.argv[2];
const config = process.argv[3];
if (!file) {
  console.error('usage: polkit_rule_test.js RULES_FILE [CONFIG]');
  process.exit(2);
}
const source = fs.readFileSync(file, 'utf8');

let acorn;
try {
  acorn = require('acorn');
} catch (e) {
  console.error('FAIL: the JavaScript parser acorn is missing (Debian package node-acorn; ' +
                'NODE_PATH=/usr/share/nodejs): ' + e.message);
  process.exit(1);
}
try {
  acorn.parse(source, {ecmaVersion: 5, sourceType: 'script'});
} catch (e) {
  console.error(`FAIL: ${file} is not ES5 (polkitd's Duktape would reject it): ${e.message}`);
  process.exit(1);
}

// The part of polkitd's JavaScript environment a rule sees (polkit(8)).
const rules = [];
const logged = [];
const polkit = {
  Result: {NO: 'no', YES: 'yes', AUTH_SELF: 'auth_self', AUTH_SELF_KEEP: 'auth_self_keep',
           AUTH_ADMIN: 'auth_admin', AUTH_ADMIN_KEEP: 'auth_admin_keep', NOT_HANDLED: null},
  addRule(fn) { rules.push(fn); },
  addAdminRule() { throw new Error('the rule must not change who counts as an administrator'); },
  log(msg) { logged.push(String(msg)); },
  spawn() { throw new Error('the rule must not spawn programs'); },
};
vm.runInNewContext(source, {polkit}, {filename: file});

const failures = [];
if (rules.length !== 1) failures.push(`expected exactly one polkit.addRule, got ${rules.length}`);

function decide(user, actionId, details) {
  const action = {id: actionId, lookup: (k) => details[k]};
  const subject = {user, pid: 4242, local: false, active: false, session: '',
                   groups: [user], isInGroup: (g) => g === user, isInNetGroup: () => false};
  let result = null;
  for (const r of rules) {
    result = r(action, subject);
    if (result !== undefined && result !== null) break;
  }
  return result === undefined ? null : result;
}

function expect(what, got, want) {
  if (got !== want) failures.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

const MANAGE = 'org.freedesktop.systemd1.manage-units';
const platform = ['postgresql@15-main.service', 'acis-api.service', 'acis-frontend.service',
                  'acis-trading.service'];
let cases = 0;
for (const unit of platform) {
  for (const verb of ['start', 'stop', 'restart']) {
    expect(`acis-healthd ${verb} ${unit}`, decide('acis-healthd', MANAGE, {unit, verb}), 'yes');
    ++cases;
  }
  for (const verb of ['reload', 'try-restart', 'reload-or-restart', 'kill', 'reset-failed',
                      'freeze', undefined]) {
    expect(`acis-healthd ${verb} ${unit}`, decide('acis-healthd', MANAGE, {unit, verb}), 'no');
    ++cases;
  }
  // Other users are not this rule's business: the actions' defaults (auth_admin) decide.
  expect(`postgres restart ${unit}`, decide('postgres', MANAGE, {unit, verb: 'restart'}), null);
  expect(`root restart ${unit}`, decide('root', MANAGE, {unit, verb: 'restart'}), null);
  cases += 2;
}
for (const unit of ['acis-healthd.service', 'ssh.service', 'postgresql@16-main.service',
                    'postgresql.service', 'acis-api.service.d', 'ACIS-API.SERVICE',
                    'acis-api.socket', 'dbus.service', 'multi-user.target', '', undefined]) {
  expect(`acis-healthd restart ${unit}`, decide('acis-healthd', MANAGE, {unit, verb: 'restart'}), 'no');
  ++cases;
}
// Manager-level requests (transient units via systemd-run, ...) carry no unit detail.
expect('acis-healthd manage-units without details', decide('acis-healthd', MANAGE, {}), 'no');
for (const id of ['org.freedesktop.systemd1.manage-unit-files', 'org.freedesktop.systemd1.reload-daemon',
                  'org.freedesktop.systemd1.set-environment', 'org.freedesktop.login1.reboot',
                  'org.freedesktop.login1.power-off', 'org.freedesktop.policykit.exec']) {
  expect(`acis-healthd ${id}`, decide('acis-healthd', id, {unit: 'acis-api.service', verb: 'restart'}), 'no');
  ++cases;
}
expect('a user whose name only starts with acis-healthd',
       decide('acis-healthd2', MANAGE, {unit: 'acis-api.service', verb: 'restart'}), null);
++cases;
// Refusals are logged (polkitd's journal), so a failed runbook step can be explained.
logged.length = 0;
decide('acis-healthd', MANAGE, {unit: 'ssh.service', verb: 'stop'});
if (!logged.some((l) => l.includes('ssh.service') && l.includes('stop')))
  failures.push(`a refusal is not logged with its unit and verb: ${JSON.stringify(logged)}`);
++cases;

// The config's runbooks restart units through systemctl as this user: each must be allowed
// (systemctl completes a name without a suffix to NAME.service).
if (config) {
  const {facts} = require('./config_facts.js');
  for (const st of facts(config).systemctl) {
    for (let unit of st.units) {
      if (!/\.(service|socket|target|timer|mount|path|slice|scope)$/.test(unit)) unit += '.service';
      expect(`config runbook ${st.runbook} step "${st.step}": systemctl ${st.verb} ${unit}`,
             decide('acis-healthd', MANAGE, {unit, verb: st.verb}), 'yes');
      ++cases;
    }
  }
}

if (failures.length) {
  for (const f of failures) console.error('FAIL: ' + f);
  process.exit(1);
}
console.log(`polkit rule: ES5 ok, ${cases} cases ok`);
