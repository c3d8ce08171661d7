// Helpers shared by the benchmark's Node scripts (load.js, msg-users.js,
// msg-ref-server.js).
'use strict';

// parseArgs reads "--name value" and "--name=value" pairs from argv over a
// copy of def; values that look like (optionally negative) decimal numbers
// become numbers, anything else stays a string. Other words are skipped.
function parseArgs(argv, def) {
  const out = Object.assign({}, def);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) continue;
    const v = m[2] !== undefined ? m[2] : argv[++i];
    out[m[1]] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return out;
}

// sleep resolves after ms milliseconds.
function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

module.exports = { parseArgs, sleep };
