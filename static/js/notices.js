// Short notices over the call: someone joined, left, raised a hand, or knocks to be let in.
//
// They go into one polite live region (#notices), so a screen reader reads them without
// interrupting; each can be dismissed, and fades after a few seconds unless it holds focus or
// asks for an answer (a knock stays until it is answered elsewhere or dismissed).
// Names come from other people: they are only ever set with textContent.

import { gettext, interpolate } from "./i18n.js";

const FADE_AFTER_MS = 6000;
const FADE_MS = 600;

export class Notices {
  #root;
  #kept = new Map(); // key -> notice element, for those removed by an event (a knock answered)

  constructor(root) {
    this.#root = root;
  }

  /** Show `text`; `actions`: [[label, ariaLabel, onClick]]; `key`: remove it later with `drop`. */
  show(text, { actions = [], key = "", stays = false } = {}) {
    const notice = document.createElement("div");
    notice.className = "notice";
    const body = document.createElement("span");
    body.textContent = text;
    notice.append(body);
    for (const [label, ariaLabel, onClick] of actions) {
      notice.append(this.#button(label, ariaLabel, () => {
        onClick();
        this.#remove(notice, key);
      }));
    }
    const dismiss = interpolate(gettext("Dismiss: %(notice)s"), { notice: text });
    notice.append(this.#button(gettext("Dismiss"), dismiss, () => this.#remove(notice, key), "secondary small"));
    this.#root.append(notice);
    if (key) this.#kept.set(key, notice);
    if (!stays) this.#fadeLater(notice, key);
    return notice;
  }

  /** Take down the notice shown with `key` (its question was answered elsewhere). */
  drop(key) {
    const notice = this.#kept.get(key);
    if (notice) this.#remove(notice, key);
  }

  #button(label, ariaLabel, onClick, className = "small") {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.textContent = label;
    button.setAttribute("aria-label", ariaLabel);
    button.addEventListener("click", onClick);
    return button;
  }

  #fadeLater(notice, key) {
    setTimeout(() => {
      if (!notice.isConnected) return;
      if (notice.contains(document.activeElement)) {
        notice.addEventListener("focusout", () => this.#fadeLater(notice, key), { once: true });
        return;
      }
      notice.classList.add("fading"); // CSS fades it (not with prefers-reduced-motion)
      setTimeout(() => this.#remove(notice, key), FADE_MS);
    }, FADE_AFTER_MS);
  }

  #remove(notice, key) {
    notice.remove();
    if (key && this.#kept.get(key) === notice) this.#kept.delete(key);
  }
}

/** Two soft tones, made on the spot (no sound file): someone is knocking. Returns whether it played. */
export function chime() {
  try {
    const context = new AudioContext();
    const now = context.currentTime;
    for (const [offset, frequency] of [[0, 880], [0.18, 660]]) {
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, now + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.3);
      tone.connect(gain).connect(context.destination);
      tone.start(now + offset);
      tone.stop(now + offset + 0.32);
    }
    setTimeout(() => context.close(), 1000);
    return true;
  } catch (error) {
    console.info("[notices] no chime:", error.message);
    return false;
  }
}

/**
 * Tell of people coming, going and raising a hand, from the signaling messages. A peer that
 * resumes after a reconnect (`peer-left` with `resumable`, then `peer-joined` again) is not news.
 */
export function announceComings(notices, signaling, ownPeerId) {
  const names = new Map();
  const hands = new Map();
  // Names are kept across our own reconnects: those who come back under their peer id are known.
  signaling.on("welcome", ({ peers, media_states: states }) => {
    for (const peer of peers ?? []) names.set(peer.peer_id, peer.name);
    for (const [peerId, state] of Object.entries(states ?? {})) hands.set(peerId, Boolean(state.hand));
  });
  signaling.on("peer-joined", ({ peer }) => {
    const known = names.has(peer.peer_id);
    names.set(peer.peer_id, peer.name);
    if (!known) notices.show(interpolate(gettext("%(name)s joined"), { name: peer.name }));
  });
  signaling.on("peer-left", ({ peer_id: peerId, resumable }) => {
    if (resumable === true || !names.has(peerId)) return;
    notices.show(interpolate(gettext("%(name)s left"), { name: names.get(peerId) }));
    names.delete(peerId);
    hands.delete(peerId);
  });
  signaling.on("media-state", ({ from, hand }) => {
    const raised = Boolean(hand);
    if (from !== ownPeerId() && raised && !hands.get(from) && names.has(from)) {
      notices.show(interpolate(gettext("%(name)s raised a hand"), { name: names.get(from) }));
    }
    hands.set(from, raised);
  });
}
