// Join storm: CLIENTS clients arrive at once in rooms of ROOM_SIZE and negotiate a full mesh.
//   node joinstorm.js '{"kind":"app"|"seed","urls":[...],"clients":5000,"roomSize":4,"candidates":8,
//                       "timeoutS":120,"ratePerS":0,"sessionsFile":"...","roomPrefix":"storm-","origin":"http://..."}'
// Client i is in room floor(i / roomSize), served by urls[room % urls.length]. A newcomer sends
// an offer and `candidates` ICE candidates to every peer its welcome lists; the peer answers and
// sends as many candidates back. A pair is done when each side has the other's SDP and all its
// candidates. Prints one JSON line: join latencies, failures by reason, the time until every pair
// is done (done_s, null unless every client was admitted and every pair completed before the
// timeout), and the server error codes seen.
'use strict';
const { connect, now, loadSessions, percentile } = require('./clients');

const opts = { roomSize: 4, candidates: 8, timeoutS: 120, roomPrefix: 'storm-', ratePerS: 0, ...JSON.parse(process.argv[2]) };
opts.sessions = loadSessions(opts);
opts.timeoutMs = opts.timeoutS * 1000;
const SDP = 'v=0\r\n' + 'a=candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host\r\n'.repeat(24);
const candidate = (k) => ({ candidate: `candidate:${k} 1 udp 2122260223 192.0.2.1 ${50000 + k} typ host`, sdpMid: '0', sdpMLineIndex: 0 });

const t0 = now();
const joinMs = [], failures = {}, serverErrors = {}, joinedPerRoom = new Map(), pairHalves = new Map();
const samples = new Set();
let settled = 0, pairsDone = 0, closedAfterJoin = 0, lastJoinMs = 0, doneMs = null;

function sendSignals(client, type, to) {
  client.send(type, to, SDP);
  for (let k = 0; k < opts.candidates; k++) client.send('ice', to, candidate(k));
}

function expectedPairs(perRoom) {
  let pairs = 0;
  for (const n of perRoom) pairs += (n * (n - 1)) / 2;
  return pairs;
}

function fullMeshPairs() {
  const sizes = [];
  for (let left = opts.clients; left > 0; left -= opts.roomSize) sizes.push(Math.min(left, opts.roomSize));
  return expectedPairs(sizes);
}

function checkFinished() {
  if (doneMs === null && settled === opts.clients && pairsDone >= expectedPairs(joinedPerRoom.values())) {
    doneMs = now() - t0;
    finish();
  }
}

function halfDone(me, from) {
  const key = me < from ? me + ' ' + from : from + ' ' + me;
  const halves = (pairHalves.get(key) || 0) + 1;
  pairHalves.set(key, halves);
  if (halves === 2) { pairsDone++; checkFinished(); }
}

function negotiate(client) {
  const got = new Map(); // from -> {sdp, ice}
  client.on({
    signal: (type, from, payload) => {
      const state = got.get(from) || { sdp: false, ice: 0, done: false };
      got.set(from, state);
      if (type === 'offer') { state.sdp = true; sendSignals(client, 'answer', from); }
      else if (type === 'answer') state.sdp = true;
      else state.ice++;
      if (!state.done && state.sdp && state.ice >= opts.candidates) { state.done = true; halfDone(client.id, from); }
    },
    error: (code) => { serverErrors[code] = (serverErrors[code] || 0) + 1; },
    closed: () => { closedAfterJoin++; },
  });
  for (const peer of client.peers) sendSignals(client, 'offer', peer);
}

const clients = [];
function start(i) {
  const started = now();
  connect(opts, i).then((client) => {
    const room = Math.floor(i / opts.roomSize);
    joinMs.push(now() - started);
    lastJoinMs = now() - t0;
    joinedPerRoom.set(room, (joinedPerRoom.get(room) || 0) + 1);
    clients.push(client);
    negotiate(client);
  }, (e) => {
    const reason = e.reason || 'error';
    failures[reason] = (failures[reason] || 0) + 1;
    if (samples.size < 5) samples.add(e.message);
  }).finally(() => { settled++; checkFinished(); });
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  joinMs.sort((a, b) => a - b);
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({
    kind: opts.kind, clients: opts.clients, room_size: opts.roomSize, candidates: opts.candidates, rate_per_s: opts.ratePerS,
    joined: joinMs.length, join_failures: failed, failures, failure_samples: [...samples],
    join_p50_ms: percentile(joinMs, 0.5), join_p99_ms: percentile(joinMs, 0.99), join_max_ms: percentile(joinMs, 1),
    all_joined_s: joinMs.length ? +(lastJoinMs / 1000).toFixed(2) : null,
    // done_s: every pair of the full mesh negotiated; settled_s: every pair of the admitted clients.
    done_s: doneMs !== null && pairsDone === fullMeshPairs() ? +(doneMs / 1000).toFixed(2) : null,
    settled_s: doneMs === null ? null : +(doneMs / 1000).toFixed(2),
    pairs_done: pairsDone, pairs_expected: fullMeshPairs(), closed_after_join: closedAfterJoin, server_errors: serverErrors,
  }));
  for (const c of clients) c.close();
  setTimeout(() => process.exit(0), 500);
}

setTimeout(finish, opts.timeoutMs + 5000);
// ratePerS 0: everyone at once (the storm); otherwise arrivals spread evenly at that rate.
if (!opts.ratePerS) for (let i = 0; i < opts.clients; i++) start(i);
else for (let i = 0; i < opts.clients; i++) setTimeout(() => start(i), (1000 * i) / opts.ratePerS);
