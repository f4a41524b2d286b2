// Signaling clients for the benchmarks: one interface over two protocols.
//  'app'  our WebSocket protocol (docs/protocol.md), with the `ws` package.
//  'seed' the seed's Socket.IO protocol (join-room, room-users, offer/answer/ice-candidate).
// Run with NODE_PATH pointing at a node_modules holding `ws` and `socket.io-client`
// (bench/signaling.py uses the seed's, installed in its cache directory).
'use strict';

const now = () => Number(process.hrtime.bigint() / 1000n) / 1000; // ms

// connect(opts, i, resume) resolves, once admitted, to:
//   {id, peers: [ids already in the room], send(type, to, payload), on(handlers), close(), drop(),
//    resume: the token to come back with, resumed: whether this connection resumed (ours only)}
// `resume` (ours only): a token from an earlier welcome, sent as `?resume=`. drop() cuts the
// connection without a close frame, as a network blip does (ours: resumable on the server).
// type is 'offer' | 'answer' | 'ice'; payload is an SDP string or an RTCIceCandidateInit.
// handlers: {signal(type, from, payload), error(code), closed(code)}.
// It rejects with an Error whose `reason` is 'refused', 'closed:<code>', 'error' or 'timeout'.
function connect(opts, i, resume) {
  return opts.kind === 'seed' ? connectSeed(opts, i) : connectApp(opts, i, resume);
}

function failure(reason, detail) {
  const e = new Error(reason + (detail ? ': ' + detail : ''));
  e.reason = reason;
  return e;
}

// Events held until handlers are set: the welcome and the first offers can arrive in one TCP
// read, and a client resolved on the welcome gets its handlers only a microtask later.
function buffered() {
  let handlers = null;
  const held = [];
  return {
    on: (h) => { handlers = h; for (const [name, args] of held.splice(0)) if (h[name]) h[name](...args); },
    emit: (name, ...args) => {
      if (handlers === null) held.push([name, args]);
      else if (handlers[name]) handlers[name](...args);
    },
  };
}

// ECONNRESET during the handshake is how daphne drops a socket it did not accept in time
// (--websocket_connect_timeout, 5 s by default): autobahn aborts the TCP connection.
function errorReason(message) {
  if (/ECONNREFUSED/.test(message)) return 'refused';
  if (/ECONNRESET|socket hang up/.test(message)) return 'reset';
  const status = /Unexpected server response: (\d+)/.exec(message);
  if (status) return 'http:' + status[1];
  return /timed? ?out/i.test(message) ? 'timeout' : 'error';
}

function connectApp(opts, i, resume) {
  const WebSocket = require('ws');
  const room = Math.floor(i / opts.roomSize);
  const query = resume ? '?resume=' + encodeURIComponent(resume) : '';
  const url = opts.urls[room % opts.urls.length] + '/ws/rooms/' + opts.roomPrefix + room + '/' + query;
  const headers = { Cookie: 'sessionid=' + opts.sessions[i % opts.sessions.length] };
  if (opts.origin) headers.Origin = opts.origin;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: opts.timeoutMs });
    const events = buffered();
    let admitted = false;
    const timer = setTimeout(() => { if (!admitted) { reject(failure('timeout')); ws.terminate(); } }, opts.timeoutMs);
    ws.on('error', (e) => {
      clearTimeout(timer);
      if (!admitted) reject(failure(errorReason(e.message), e.message));
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      if (!admitted) reject(failure('closed:' + code));
      else events.emit('closed', code);
    });
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'welcome') {
        admitted = true; clearTimeout(timer);
        resolve({
          id: m.peer_id,
          peers: m.peers.map((p) => p.peer_id),
          send: (type, to, payload) => ws.send(JSON.stringify(
            type === 'ice' ? { type, to, candidate: payload } : { type, to, sdp: payload })),
          on: events.on,
          close: () => ws.close(),
          drop: () => ws.terminate(),
          resume: m.resume,
          resumed: m.resumed,
        });
      } else if (m.type === 'offer' || m.type === 'answer') {
        events.emit('signal', m.type, m.from, m.sdp);
      } else if (m.type === 'ice') {
        events.emit('signal', 'ice', m.from, m.candidate);
      } else if (m.type === 'error') {
        events.emit('error', m.code);
      }
    });
  });
}

const SEED_EVENT = { offer: 'offer', answer: 'answer', ice: 'ice-candidate' };
const SEED_KEY = { offer: 'offer', answer: 'answer', ice: 'candidate' };

function connectSeed(opts, i) {
  const { io } = require('socket.io-client');
  const room = Math.floor(i / opts.roomSize);
  const userId = 'u' + i;
  return new Promise((resolve, reject) => {
    const s = io(opts.urls[room % opts.urls.length], {
      transports: ['websocket'], auth: { token: 'bench' }, forceNew: true, reconnection: false,
      timeout: opts.timeoutMs,
    });
    const events = buffered();
    let admitted = false;
    const timer = setTimeout(() => { if (!admitted) { reject(failure('timeout')); s.close(); } }, opts.timeoutMs);
    s.on('connect_error', (e) => { clearTimeout(timer); reject(failure(errorReason(e.message + ' ' + (e.description && e.description.message || '')), e.message)); });
    s.on('disconnect', (why) => { if (!admitted) reject(failure('closed:' + why)); else events.emit('closed', why); });
    for (const type of ['offer', 'answer', 'ice']) {
      s.on(SEED_EVENT[type], (m) => events.emit('signal', type, m.from, m[SEED_KEY[type]]));
    }
    s.once('room-users', ({ users }) => {
      admitted = true; clearTimeout(timer);
      resolve({
        id: userId,
        peers: users,
        send: (type, to, payload) => s.emit(SEED_EVENT[type], { to, [SEED_KEY[type]]: type === 'ice' ? payload : { type, sdp: payload } }),
        on: events.on,
        close: () => s.close(),
        drop: () => s.disconnect(),
        resume: null,
        resumed: false,
      });
    });
    s.on('connect', () => s.emit('join-room', { roomId: opts.roomPrefix + room, userId }));
  });
}

// Seed payloads wrap the SDP ({type, sdp}); ours carry the string.
const sdpOf = (payload) => (typeof payload === 'string' ? payload : payload && payload.sdp);

function loadSessions(opts) {
  if (opts.kind !== 'app') return [];
  const fs = require('fs');
  return fs.readFileSync(opts.sessionsFile, 'utf8').split('\n').filter(Boolean);
}

function percentile(sorted, q) {
  return sorted.length ? +sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(2) : null;
}

module.exports = { connect, now, sdpOf, loadSessions, percentile };
