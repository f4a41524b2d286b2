// Pre-join network check: can this browser reach the deployment's STUN and TURN servers,
// and so will the call be direct, relayed, or blocked? One concern: probing ICE.

import { gettext, interpolate } from "./i18n.js";

const PROBE_TIMEOUT_MS = 6000;

// Gather candidates for one ICE server URL; resolve with the candidate types seen and the
// STUN/TURN error codes the server answered (401/403: it refused our credentials).
async function probe(server, url, relayOnly) {
  const config = { iceServers: [{ ...server, urls: [url] }], iceTransportPolicy: relayOnly ? 'relay' : 'all' };
  const pc = new RTCPeerConnection(config);
  const types = new Set();
  const errors = new Set();
  try {
    pc.createDataChannel('probe');
    pc.addEventListener('icecandidateerror', (event) => { if (event.errorCode) errors.add(event.errorCode); });
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
  return { types, errors };
}

function portsOf(urls) {
  const ports = urls.map((url) => {
    const match = /^(turns?|stun):[^?]*:(\d+)/.exec(url);
    const port = match ? match[2] : (url.startsWith('turns:') ? '5349' : '3478');
    return `${url.startsWith('turns:') || /transport=tcp/i.test(url) ? 'TCP' : 'UDP'} ${port}`;
  });
  return [...new Set(ports)].join(', ');
}

function transportOf(url) {
  if (url.startsWith('turns:')) return 'tls';
  return /transport=tcp/i.test(url) ? 'tcp' : 'udp';
}

// Returns {stun, turn: {udp, tcp, tls}, refused, verdict, advice}; verdict is one of
// 'direct', 'relayed', 'blocked', 'misconfigured' (the relay refused our credentials), 'local'.
export async function checkNetwork(iceServers) {
  const result = { stun: null, turn: { udp: null, tcp: null, tls: null }, refused: false, verdict: 'local', advice: '' };
  const probes = [];
  const probed = [];
  for (const server of iceServers || []) {
    for (const url of [].concat(server.urls)) {
      if (url.startsWith('stun:')) {
        probed.push(url);
        probes.push(probe(server, url, false).then(({ types }) => { result.stun = result.stun || types.has('srflx'); }));
      } else if (url.startsWith('turn:') || url.startsWith('turns:')) {
        probed.push(url);
        const transport = transportOf(url);
        probes.push(probe(server, url, true).then(({ types, errors }) => {
          result.turn[transport] = result.turn[transport] || types.has('relay');
          if (errors.has(401) || errors.has(403)) result.refused = true;
        }));
      }
    }
  }
  await Promise.all(probes.map((p) => p.catch(() => undefined)));
  Object.assign(result, verdictOf(result, probed));
  return result;
}

function verdictOf(result, probed) {
  const anyTurn = Object.values(result.turn).some(Boolean);
  const stunTried = result.stun !== null;
  if (!probed.length) {
    return { verdict: 'local', advice: gettext('This server offers no STUN or TURN: calls work between people on the same network only.') };
  }
  if (result.stun) {
    return {
      verdict: 'direct',
      advice: anyTurn
        ? gettext('Your network allows direct calls, with the relay as a fallback.')
        : gettext('Your network allows direct calls, but the relay is unreachable: calls with people behind strict firewalls may fail.'),
    };
  }
  if (anyTurn) {
    const how = result.turn.udp ? gettext('your call will go through the relay server.')
      : gettext('only TCP/TLS to the relay works (UDP is blocked), so your call will be relayed with some extra delay.');
    const advice = stunTried ? gettext('Direct connections are blocked; %(how)s') : gettext('Relay checked: %(how)s');
    return { verdict: 'relayed', advice: interpolate(advice, { how }) };
  }
  if (result.refused) {
    return {
      verdict: 'misconfigured',
      advice: gettext("The relay server refused this site's credentials: this is a server problem, not your network. "
        + "Tell the site administrator (TURN_SHARED_SECRET must match coturn's static-auth-secret)."),
    };
  }
  return {
    verdict: 'blocked',
    advice: interpolate(stunTried
      ? gettext('Your network reaches neither the STUN server nor the relay server. Try another network, or ask your network administrator to allow %(ports)s to this server.')
      : gettext('Your network does not reach the relay server. Try another network, or ask your network administrator to allow %(ports)s to this server.'),
    { ports: portsOf(probed) }),
  };
}

const VERDICT_TITLES = {
  direct: gettext('Network: direct calls work.'),
  relayed: gettext('Network: your call will be relayed.'),
  blocked: gettext('Network: calls are blocked here.'),
  misconfigured: gettext('Network: the relay server is misconfigured.'),
  local: gettext('Network: local calls only.'),
};

// Fetch fresh ICE servers, run the check, and tell the person in `element`.
export async function showNetworkCheck(element, iceServersUrl) {
  if (!element) return null;
  try {
    const response = await fetch(iceServersUrl, { credentials: 'same-origin', cache: 'no-store' });
    const body = await response.json().catch(() => ({}));
    // 429 `turn_throttled`: STUN servers only, and a sentence for the person.
    if (!response.ok && !body.ice_servers) throw new Error(body.message || `HTTP ${response.status}`);
    const { ice_servers: iceServers } = body;
    const result = await checkNetwork(iceServers);
    element.dataset.verdict = result.verdict;
    element.textContent = `${VERDICT_TITLES[result.verdict]} ${result.advice}${body.message ? ` ${body.message}` : ''}`;
    return result;
  } catch (error) {
    element.dataset.verdict = 'unknown';
    element.textContent = gettext('Could not check your network; you can still try to join.');
    return null;
  }
}
