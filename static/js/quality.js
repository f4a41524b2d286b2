// Connection quality on each person's tile: three bars, from the packet loss, round-trip time
// and jitter of what we receive from them over the last WINDOW_MS, with a text alternative
// ("Connection quality: good"). It reads the getStats() reports the active-speaker poll
// (speaker.js) already takes, so the page polls once. Through the relay (one connection,
// "server", for everyone), each person's part of the report is told apart by the mid of the
// transceiver carrying them. While nothing arrives from someone (they joined without devices),
// their tile shows no bars rather than a grade made up.

import { gettext, interpolate } from "./i18n.js";
import { SERVER_PEER_ID } from "./recording.js";
import { summarize } from "./telemetry.js";

const WINDOW_MS = 2000;
// The worst value of each measure for 3, 2 and 1 bars; anything worse is 0.
const LIMITS = { loss: [0.02, 0.05, 0.1], rttMs: [200, 400, 800], jitterMs: [30, 60, 100] };
export const QUALITY_WORDS = [gettext("very poor"), gettext("poor"), gettext("fair"), gettext("good")];

/** 0-3 bars: the worst grade of the measures known (null: not measured, left out). */
export function grade(measures) {
  let bars = 3;
  for (const [name, limits] of Object.entries(LIMITS)) {
    const value = measures[name];
    if (typeof value !== "number") continue;
    const within = limits.findIndex((limit) => value <= limit);
    bars = Math.min(bars, within === -1 ? 0 : 3 - within);
  }
  return bars;
}

function barsElement() {
  const node = document.createElement("span");
  node.className = "quality";
  node.setAttribute("role", "img");
  node.hidden = true;
  for (let bar = 1; bar <= 3; bar += 1) node.append(document.createElement("span"));
  return node;
}

export class QualityBars {
  #tiles = new Map(); // peerId -> {bars, before: {at, totals} | null}

  /**
   * @param ownerOf - on the relay's connection, the peer id whose media a mid carries
   * @param relayed - whether a person's media comes through the relay now (their direct
   *   connection, if any is left, is not theirs to grade)
   */
  constructor({ ownerOf = () => null, relayed = () => false } = {}) {
    this.ownerOf = ownerOf;
    this.relayed = relayed;
  }

  /** Put the bars on this person's tile (in its caption). */
  attach(peerId, tile) {
    const bars = barsElement();
    (tile.querySelector("figcaption") ?? tile).append(bars);
    this.#tiles.set(peerId, { bars, before: null });
  }

  forget(peerId) {
    this.#tiles.delete(peerId);
  }

  /** One getStats() report of the connection to `connectionId` (a person, or the relay). */
  observe(connectionId, report, now = performance.now()) {
    if (connectionId !== SERVER_PEER_ID) {
      if (!this.relayed(connectionId)) this.#grade(connectionId, report, now);
      return;
    }
    for (const [peerId, theirs] of this.#split(report)) {
      if (this.relayed(peerId)) this.#grade(peerId, theirs, now);
    }
  }

  /** The relay's report as one per person: their inbound streams, and the shared transport. */
  #split(report) {
    const shared = [];
    const inbound = new Map(); // peerId -> entries
    report.forEach((entry) => {
      if (entry.type !== "inbound-rtp") return shared.push(entry);
      const peerId = this.ownerOf(entry.mid);
      if (peerId) inbound.set(peerId, [...(inbound.get(peerId) ?? []), entry]);
    });
    return [...inbound].map(([peerId, entries]) => [peerId, [...shared, ...entries]]);
  }

  #grade(peerId, report, now) {
    const tile = this.#tiles.get(peerId);
    if (!tile || (tile.before && now - tile.before.at < WINDOW_MS)) return;
    const totals = summarize(report);
    const before = tile.before;
    tile.before = { at: now, totals };
    if (!before) return; // the first report is the baseline
    const received = Math.max(0, totals.received - before.totals.received);
    const lost = Math.max(0, totals.lost - before.totals.lost);
    if (received === 0) {
      tile.bars.hidden = true;
      return;
    }
    this.#show(tile.bars, grade({ loss: lost / (received + lost), rttMs: totals.rtt, jitterMs: totals.jitter }));
  }

  #show(node, bars) {
    const text = interpolate(gettext("Connection quality: %(grade)s"), { grade: QUALITY_WORDS[bars] });
    node.dataset.bars = String(bars);
    node.setAttribute("aria-label", text);
    node.title = text;
    node.hidden = false;
  }
}
