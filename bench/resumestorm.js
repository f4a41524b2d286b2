// Resume storm: CLIENTS clients join rooms of ROOM_SIZE (in batches, as loadgen.js does), then
// every connection drops at once (a network blip, a proxy restart) and every client reconnects
// at the same moment, ours with the resume token of its last `welcome`.
//   node resumestorm.js '{"kind":"app"|"seed","urls":[...],"clients":1000,"roomSize":4,"timeoutS":60,
//                         "sessionsFile":"...","roomPrefix":"resume-","origin":"http://..."}'
// Timed from the moment of the drop until every client has its `welcome` again (the seed:
// `room-users`). Prints one JSON line: the setup (join_s, joined), the storm (done_s: all back,
// null unless every one came back; rejoin p50/p99), how many came back under their old peer id
// (`resumed`, ours only), failures by reason.
'use strict';
const { connect, now, loadSessions, percentile } = require('./clients');

const opts = { roomSize: 4, timeoutS: 60, roomPrefix: 'resume-', ...JSON.parse(process.argv[2]) };
opts.sessions = loadSessions(opts);
opts.timeoutMs = opts.timeoutS * 1000;

function tally(results) {
  const ok = [], failures = {}, samples = new Set();
  for (const r of results) {
    if (r.status === 'fulfilled') ok.push(r.value);
    else {
      const reason = r.reason.reason || 'error';
      failures[reason] = (failures[reason] || 0) + 1;
      if (samples.size < 5) samples.add(r.reason.message);
    }
  }
  return { ok, failures, samples: [...samples] };
}

(async () => {
  const t0 = now();
  const first = [];
  for (let i = 0; i < opts.clients; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(i + 100, opts.clients); j++) batch.push(connect(opts, j).then((c) => ({ i: j, c })));
    first.push(...await Promise.allSettled(batch));
  }
  const setup = tally(first);
  const joinS = (now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 500)); // the last peer-joined news
  const tokens = new Map(setup.ok.map(({ i, c }) => [i, c.resume]));
  const stormStart = now();
  for (const { c } of setup.ok) c.drop();
  const rejoinMs = [];
  let resumed = 0;
  const back = await Promise.allSettled(setup.ok.map(({ i, c }) => {
    const started = now();
    return connect(opts, i, tokens.get(i)).then((again) => {
      rejoinMs.push(now() - started);
      if (again.resumed && again.id === c.id) resumed++;
      return again;
    });
  }));
  const doneMs = now() - stormStart;
  const storm = tally(back);
  rejoinMs.sort((a, b) => a - b);
  const failed = Object.values(storm.failures).reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({
    kind: opts.kind, clients: opts.clients, room_size: opts.roomSize,
    join_s: +joinS.toFixed(2), joined: setup.ok.length, setup_failures: setup.failures,
    rejoined: storm.ok.length, join_failures: failed, failures: storm.failures, failure_samples: storm.samples,
    resumed: opts.kind === 'app' ? resumed : null,
    done_s: failed === 0 && storm.ok.length === opts.clients ? +(doneMs / 1000).toFixed(2) : null,
    last_welcome_s: +(doneMs / 1000).toFixed(2),
    join_p50_ms: percentile(rejoinMs, 0.5), join_p99_ms: percentile(rejoinMs, 0.99),
  }));
  for (const c of storm.ok) c.close();
  setTimeout(() => process.exit(0), 500);
})();
