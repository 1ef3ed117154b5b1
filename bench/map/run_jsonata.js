// bench/map/run_jsonata.js EXPR-FILE NDJSON — evaluates a JSONata expression
// on every line (one document per line) and prints one compact JSON record
// per line, like `jq -c` and bench_map.
'use strict';
const fs = require('fs');
const readline = require('readline');
const jsonata = require('jsonata');

async function main() {
  const expr = jsonata(fs.readFileSync(process.argv[2], 'utf8'));
  const rl = readline.createInterface({ input: fs.createReadStream(process.argv[3]), crlfDelay: Infinity });
  const out = [];
  for await (const line of rl) {
    if (!line) continue;
    out.push(JSON.stringify(await expr.evaluate(JSON.parse(line))));
    if (out.length >= 1000) {
      process.stdout.write(out.join('\n') + '\n');
      out.length = 0;
    }
  }
  if (out.length) process.stdout.write(out.join('\n') + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
