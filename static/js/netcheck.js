// Pre-join network check: can this browser reach the deployment's STUN and TURN servers,
// and so will the call be direct, relayed, or blocked? One concern: probing ICE.

const PROBE_TIMEOUT_MS = 6000;

// Gather candidates for one ICE server URL; resolve with the candidate types seen.
async function probe(server, url, relayOnly) {
  const config = { iceServers: [{ ...server, urls: [url] }], iceTransportPolicy: relayOnly ? 'relay' : 'all' };
  const pc = new RTCPeerConnection(config);
  const types = new Set();
  try {
    pc.createDataChannel('probe');
    const done = new Promise((resolve) => {
      const timer = setTimeout(resolve, PROBE_TIMEOUT_MS);
      pc.addEventListener('icecandidate', (event) => {
        if (!event.candidate) { clearTimeout(timer); resolve(); return; }
        if (event.candidate.type) types.add(event.candidate.type);
      });
    });
    await pc.setLocalDescription(await pc.createOffer());
    await done;
  } finally {
    pc.close();
  }
  return types;
}

function transportOf(url) {
  if (url.startsWith('turns:')) return 'tls';
  return /transport=tcp/i.test(url) ? 'tcp' : 'udp';
}

// Returns {stun, turn: {udp, tcp, tls}, verdict: 'direct'|'relayed'|'blocked'|'local', advice}.
export async function checkNetwork(iceServers) {
  const result = { stun: null, turn: { udp: null, tcp: null, tls: null }, verdict: 'local', advice: '' };
  const probes = [];
  for (const server of iceServers || []) {
    for (const url of [].concat(server.urls)) {
      if (url.startsWith('stun:')) {
        probes.push(probe(server, url, false).then((t) => { result.stun = result.stun || t.has('srflx'); }));
      } else if (url.startsWith('turn:') || url.startsWith('turns:')) {
        const transport = transportOf(url);
        probes.push(probe(server, url, true).then((t) => {
          result.turn[transport] = result.turn[transport] || t.has('relay');
        }));
      }
    }
  }
  await Promise.all(probes.map((p) => p.catch(() => undefined)));
  const anyTurn = Object.values(result.turn).some(Boolean);
  const triedAnything = result.stun !== null || Object.values(result.turn).some((v) => v !== null);
  if (!triedAnything) {
    result.verdict = 'local';
    result.advice = 'This server offers no STUN or TURN: calls work between people on the same network only.';
  } else if (result.stun) {
    result.verdict = 'direct';
    result.advice = anyTurn
      ? 'Your network allows direct calls, with the relay as a fallback.'
      : 'Your network allows direct calls, but the relay is unreachable: calls with people behind strict firewalls may fail.';
  } else if (anyTurn) {
    result.verdict = 'relayed';
    result.advice = result.turn.udp
      ? 'Direct connections are blocked; your call will go through the relay server.'
      : 'Only TCP/TLS to the relay works (UDP is blocked): your call will be relayed, with some extra delay.';
  } else {
    result.verdict = 'blocked';
    result.advice = 'Your network blocks both direct calls and the relay server. Try another network, '
      + 'or ask your network administrator to allow UDP 3478 and TCP 443/5349 to this server.';
  }
  return result;
}

const VERDICT_TITLES = {
  direct: 'Network: direct calls work.',
  relayed: 'Network: your call will be relayed.',
  blocked: 'Network: calls are blocked here.',
  local: 'Network: local calls only.',
};

// Fetch fresh ICE servers, run the check, and tell the person in `element`.
export async function showNetworkCheck(element, iceServersUrl) {
  if (!element) return null;
  try {
    const response = await fetch(iceServersUrl, { credentials: 'same-origin', cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const { ice_servers: iceServers } = await response.json();
    const result = await checkNetwork(iceServers);
    element.dataset.verdict = result.verdict;
    element.textContent = `${VERDICT_TITLES[result.verdict]} ${result.advice}`;
    return result;
  } catch (error) {
    element.dataset.verdict = 'unknown';
    element.textContent = 'Could not check your network; you can still try to join.';
    return null;
  }
}
