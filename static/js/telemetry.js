// Call-quality telemetry (docs/protocol.md, `stats`): every few seconds, one summary of
// getStats() over all peer connections, sent on the signaling socket. The server keeps only
// histograms by room kind and path, never who sent what.

const MAX_KBPS = 1_000_000;

function median(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

/** Totals, the worst inbound jitter (ms) and the chosen ICE path of one connection, from one
 * getStats() report (also read per tile by quality.js). */
export function summarize(report) {
  const totals = { bytesIn: 0, bytesOut: 0, received: 0, lost: 0, rtt: null, jitter: null, relayed: null };
  const byId = new Map();
  report.forEach((entry) => byId.set(entry.id, entry));
  for (const entry of byId.values()) {
    if (entry.type === "inbound-rtp") {
      totals.bytesIn += entry.bytesReceived ?? 0;
      totals.received += entry.packetsReceived ?? 0;
      totals.lost += Math.max(0, entry.packetsLost ?? 0); // negative with duplicates, per spec
      if (typeof entry.jitter === "number") totals.jitter = Math.max(totals.jitter ?? 0, entry.jitter * 1000);
    } else if (entry.type === "outbound-rtp") {
      totals.bytesOut += entry.bytesSent ?? 0;
    } else if (entry.type === "transport" && entry.selectedCandidatePairId) {
      const pair = byId.get(entry.selectedCandidatePairId);
      if (!pair) continue;
      if (typeof pair.currentRoundTripTime === "number") totals.rtt = pair.currentRoundTripTime * 1000;
      const types = [byId.get(pair.localCandidateId), byId.get(pair.remoteCandidateId)].map((c) => c?.candidateType);
      totals.relayed = types.includes("relay");
    }
  }
  return totals;
}

export class CallTelemetry {
  #previous = new WeakMap(); // RTCPeerConnection -> {at, totals}
  #timer = null;

  /**
   * @param connections - function returning the current Map of peer_id -> RTCPeerConnection
   * @param send - function(message) putting a message on the signaling socket
   */
  constructor({ connections, send, intervalMs = 10000 }) {
    this.connections = connections;
    this.send = send;
    this.intervalMs = intervalMs;
  }

  start() {
    this.stop();
    this.#timer = setInterval(() => {
      this.#report().catch((error) => console.debug("[telemetry]", error));
    }, this.intervalMs);
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = null;
  }

  async #report() {
    const pcs = [...this.connections().values()].filter((pc) => pc.connectionState !== "closed");
    if (pcs.length === 0) return; // alone in the room: no call to describe
    const sum = { bytesIn: 0, bytesOut: 0, received: 0, lost: 0, seconds: 0 };
    const rtts = [];
    const paths = [];
    for (const pc of pcs) {
      const now = summarize(await pc.getStats());
      const at = performance.now();
      const before = this.#previous.get(pc);
      this.#previous.set(pc, { at, totals: now });
      if (now.rtt !== null) rtts.push(now.rtt);
      if (now.relayed !== null) paths.push(now.relayed);
      if (!before) continue; // a new connection: its first sample is the baseline
      sum.bytesIn += Math.max(0, now.bytesIn - before.totals.bytesIn);
      sum.bytesOut += Math.max(0, now.bytesOut - before.totals.bytesOut);
      sum.received += Math.max(0, now.received - before.totals.received);
      sum.lost += Math.max(0, now.lost - before.totals.lost);
      sum.seconds = Math.max(sum.seconds, (at - before.at) / 1000);
    }
    const kbps = (bytes) => (sum.seconds > 0 ? Math.round(clamp((bytes * 8) / 1000 / sum.seconds, 0, MAX_KBPS)) : null);
    const packets = sum.received + sum.lost;
    const rtt = median(rtts);
    this.send({
      type: "stats",
      rtt_ms: rtt === null ? null : Math.round(clamp(rtt, 0, 60000) * 10) / 10,
      packet_loss: packets > 0 ? Math.round((sum.lost / packets) * 10000) / 10000 : null,
      inbound_kbps: kbps(sum.bytesIn),
      outbound_kbps: kbps(sum.bytesOut),
      path: paths.length === 0 ? "unknown" : paths.some(Boolean) ? "relayed" : "direct",
    });
  }
}
