// x12_bench.js — node-x12 (npm) parse throughput on one X12 file.
//
//   node x12_bench.js stream|full FILE
//
// stream: fs.createReadStream(FILE) piped into an X12Parser (a Transform
//         stream that emits one X12Segment per segment). Segments are
//         counted and ST/SE pairs give the set count; nothing is kept, so
//         memory stays bounded. This path only tokenizes: node-x12 checks no
//         envelope counts on a stream unless the segments are collected and
//         handed to getInterchangeFromSegments (which needs them all in memory).
// full:   the whole file read as a string and X12Parser(true).parse(), the
//         strict parse that checks SE01/SE02, GE01/GE02 and IEA01/IEA02 and
//         builds the object model of every interchange.
//
// Timing includes reading the file. Prints one key=value line like edi_bench;
// MB/s is 10^6 bytes per second, maxrss_mb is process.resourceUsage().maxRSS.
'use strict'
const fs = require('fs')
const { X12Parser } = require('node-x12')

const [mode, file] = process.argv.slice(2)
if (!['stream', 'full'].includes(mode) || !file) {
  console.error('usage: node x12_bench.js stream|full FILE')
  process.exit(2)
}
const bytes = fs.statSync(file).size

function report (t0, sets, segments, errors) {
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  const rss = process.resourceUsage().maxRSS / 1024
  console.log(`mode=${mode} bytes=${bytes} seconds=${secs.toFixed(3)} ` +
    `MBps=${(bytes / 1e6 / secs).toFixed(1)} sets=${sets} ` +
    `sets_per_s=${(sets / secs).toFixed(0)} segments=${segments} errors=${errors} ` +
    `maxrss_mb=${rss.toFixed(1)}`)
}

const t0 = process.hrtime.bigint()
if (mode === 'full') {
  const edi = fs.readFileSync(file, 'utf8')
  const parsed = new X12Parser(true).parse(edi)
  const ichgs = parsed.interchanges ? parsed.interchanges : [parsed]
  let sets = 0
  let segments = 0
  for (const ic of ichgs) {
    segments += 2
    for (const g of ic.functionalGroups) {
      segments += 2
      for (const t of g.transactions) {
        sets++
        segments += t.segments.length + 2
      }
    }
  }
  report(t0, sets, segments, 0)
} else {
  const parser = new X12Parser(false)
  let sets = 0
  let segments = 0
  let open = 0
  let errors = 0
  fs.createReadStream(file, { highWaterMark: 1 << 16 })
    .pipe(parser)
    .on('data', seg => {
      segments++
      if (seg.tag === 'ST') {
        if (open) errors++
        open = 1
      } else if (seg.tag === 'SE') {
        if (!open) errors++
        open = 0
        sets++
      }
    })
    .on('error', e => { console.error(`x12_bench: ${e.message}`); process.exit(1) })
    .on('end', () => report(t0, sets, segments, errors))
}
