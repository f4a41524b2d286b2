// Active speaker: who is talking now, from the audio each peer connection receives.
//
// Every `interval` ms, the mean power of each peer's inbound audio since the last look
// (getStats: totalAudioEnergy / totalSamplesDuration) gives a level 0..1. Hysteresis keeps
// the highlight steady through the gaps of speech: a person starts speaking at `startLevel`
// and stops only after `holdMs` below `stopLevel`. onChange(peerId, speaking) on each change.
// Each report is also handed to onReport(peerId, report), so other readings of the inbound
// streams (quality.js) need no poll of their own.

const DEFAULTS = { interval: 250, startLevel: 0.02, stopLevel: 0.008, holdMs: 1200 };

export class SpeakerDetector {
  #timer = null;
  #peers = new Map(); // peerId -> {energy, duration, speaking, quietSince}

  constructor({ connections, onChange, onReport = () => {}, ignore = () => false, ...options }) {
    this.connections = connections;
    this.onChange = onChange;
    this.onReport = onReport;
    this.ignore = ignore;
    this.options = { ...DEFAULTS, ...options };
  }

  start() {
    this.stop();
    const tick = async () => {
      await this.#sample().catch((error) => console.warn("[speaker]", error));
      if (this.#timer !== null) this.#timer = setTimeout(tick, this.options.interval);
    };
    this.#timer = setTimeout(tick, this.options.interval);
  }

  stop() {
    clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #sample() {
    const connections = this.connections();
    for (const peerId of this.#peers.keys()) {
      if (!connections.has(peerId)) this.#peers.delete(peerId);
    }
    const now = performance.now();
    for (const [peerId, pc] of connections) {
      if (pc.connectionState === "closed") continue;
      const report = await pc.getStats();
      this.onReport(peerId, report); // the relay's too: it carries other people's media
      if (!this.ignore(peerId)) this.#update(peerId, this.#level(peerId, report), now);
    }
  }

  #level(peerId, report) {
    let energy = 0;
    let duration = 0;
    report.forEach((entry) => {
      if (entry.type !== "inbound-rtp" || entry.kind !== "audio") return;
      energy += entry.totalAudioEnergy ?? 0;
      duration += entry.totalSamplesDuration ?? 0;
    });
    const previous = this.#peers.get(peerId) ?? { energy, duration, speaking: false, quietSince: 0 };
    this.#peers.set(peerId, { ...previous, energy, duration });
    const elapsed = duration - previous.duration;
    return elapsed > 0 ? Math.sqrt(Math.max(0, energy - previous.energy) / elapsed) : 0;
  }

  #update(peerId, level, now) {
    const peer = this.#peers.get(peerId);
    const { startLevel, stopLevel, holdMs } = this.options;
    if (level >= stopLevel) peer.quietSince = now;
    const speaking = peer.speaking ? now - peer.quietSince < holdMs : level >= startLevel;
    if (speaking === peer.speaking) return;
    peer.speaking = speaking;
    this.onChange(peerId, speaking);
  }
}
