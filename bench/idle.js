// Idle sockets: hold CLIENTS admitted connections open and silent while bench/signaling.py
// reads the server's memory and CPU. Speaks line by line on stdin/stdout:
//   node idle.js '{"kind":"app"|"seed","urls":[...],"clients":5000,"roomSize":4,"warmup":20,
//                  "joinDeadlineS":150,"sessionsFile":"...","roomPrefix":"idle-","warmPrefix":"warm-","origin":"..."}'
//   -> {"phase":"warm"}      after `warmup` clients joined and left (lazy server code now loaded)
//   <- go
//   -> {"phase":"ready",...} once every client is admitted or has failed
//   <- close (or end of input)
//   -> {"phase":"closed",...} then exits
// No application pings are sent: only the servers' own protocol-level heartbeats run.
'use strict';
const readline = require('readline');
const { connect, now, loadSessions } = require('./clients');

const opts = { roomSize: 4, warmup: 20, batch: 200, timeoutS: 60, roomPrefix: 'idle-', warmPrefix: 'warm-', ...JSON.parse(process.argv[2]) };
opts.sessions = loadSessions(opts);
opts.timeoutMs = opts.timeoutS * 1000;
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const failures = {}, samples = new Set();
let closedWhileIdle = 0;

// Stops starting new batches after deadlineMs (from the call), so a slow server still yields a figure.
async function connectAll(count, prefix, onClosed, deadlineMs = Infinity) {
  const out = [], started = now();
  for (let i = 0; i < count && now() - started < deadlineMs; i += opts.batch) {
    const batch = [];
    for (let j = i; j < Math.min(i + opts.batch, count); j++) {
      batch.push(connect({ ...opts, roomPrefix: prefix }, j).then((c) => { c.on({ closed: onClosed }); return c; }, (e) => {
        failures[e.reason || 'error'] = (failures[e.reason || 'error'] || 0) + 1;
        if (samples.size < 5) samples.add(e.message);
        return null;
      }));
    }
    out.push(...(await Promise.all(batch)).filter(Boolean));
  }
  return out;
}

const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => {
  lines.once('line', resolve);
  lines.once('close', () => resolve('close'));
});

(async () => {
  const warm = await connectAll(opts.warmup, opts.warmPrefix, () => {});
  warm.forEach((c) => c.close());
  await new Promise((r) => setTimeout(r, 500));
  say({ phase: 'warm', warmed: warm.length });
  await nextLine();
  const t0 = now();
  for (const key of Object.keys(failures)) delete failures[key];
  samples.clear();
  const socks = await connectAll(opts.clients, opts.roomPrefix, () => { closedWhileIdle++; }, (opts.joinDeadlineS || Infinity) * 1000);
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  const attempted = Math.min(opts.clients, socks.length + failed);
  say({ phase: 'ready', kind: opts.kind, clients: opts.clients, attempted, joined: socks.length, join_failures: failed,
    failures, failure_samples: [...samples], join_s: +((now() - t0) / 1000).toFixed(2) });
  await nextLine();
  say({ phase: 'closed', closed_while_idle: closedWhileIdle });
  socks.forEach((c) => c.close());
  setTimeout(() => process.exit(0), 300);
})().catch((e) => { console.error('idle failed:', e.message || e); process.exit(1); });
