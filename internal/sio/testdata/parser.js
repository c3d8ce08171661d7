// Differential check: the npm socket.io-parser@4's verdict on Socket.IO
// packets, as a stock receiver decodes them.
// Usage: node parser.js <cases.json>, a JSON array of [text, attachments]:
// the text packet is fed, then that many one-byte binary attachments.
// Prints "ok" or "err <message>" per case, then "done".
"use strict";
const { Decoder } = require("socket.io-parser");
const fs = require("fs");

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
for (const [text, n] of cases) {
  const d = new Decoder();
  let decoded = false;
  d.on("decoded", () => { decoded = true; });
  try {
    d.add(text);
    for (let i = 0; i < n; i++) d.add(Buffer.from([i]));
    console.log(decoded ? "ok" : "err not decoded");
  } catch (e) {
    console.log("err " + e.message);
  }
}
console.log("done");
