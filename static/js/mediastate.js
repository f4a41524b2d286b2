// `media-state`: what each person's microphone, camera, hand and shared screen look like,
// relayed by the server to the whole room (docs/protocol.md) and shown on every tile.
//
// LocalMediaState announces ours: again after every `welcome` (a reconnect is a new peer id),
// and whenever something changes (mute, camera, hand, screen). Unchanged states are not resent,
// and changes closer together than MIN_GAP_MS (push-to-talk taps) are coalesced into one sent
// at the end of the gap, so the server's media-state rate limit never drops the latest state.
// The raise-hand button lives here too: a hand is nothing but a flag of this state.

import { gettext } from "./i18n.js";

const MIN_GAP_MS = 600;

export class LocalMediaState {
  #hand = false;
  #last = "";
  #sentAt = 0;
  #pending = null;

  /**
   * @param send - function(message) that puts one message on the socket
   * @param media - the LocalMedia (muted, cameraOn)
   * @param screenShare - the ScreenShare (streamId)
   * @param handButton - the "Raise hand" button; emits through onHand(raised)
   */
  constructor({ send, media, screenShare, handButton, onHand }) {
    this.send = send;
    this.media = media;
    this.screenShare = screenShare;
    this.handButton = handButton;
    this.onHand = onHand;
    handButton?.addEventListener("click", () => this.setHand(!this.#hand));
  }

  get current() {
    return {
      type: "media-state",
      audio: !this.media.muted && Boolean(this.media.audioTrack),
      video: this.media.cameraOn,
      hand: this.#hand,
      screen: this.screenShare.streamId,
    };
  }

  setHand(raised) {
    this.#hand = raised;
    this.handButton?.setAttribute("aria-pressed", String(raised));
    if (this.handButton) this.handButton.textContent = raised ? gettext("Lower hand") : gettext("Raise hand");
    this.onHand?.(raised);
    this.announce();
  }

  /** Send the state if it changed since the last one sent (`force` after a new `welcome`). */
  announce({ force = false } = {}) {
    clearTimeout(this.#pending);
    this.#pending = null;
    const wait = this.#sentAt + MIN_GAP_MS - performance.now();
    if (wait > 0 && !force) {
      this.#pending = setTimeout(() => this.announce(), wait);
      return;
    }
    const message = this.current;
    const text = JSON.stringify(message);
    if (text === this.#last && !force) return;
    this.#last = text;
    this.#sentAt = performance.now();
    this.send(message);
  }

  stop() {
    clearTimeout(this.#pending);
  }
}

/** Show one person's announced state: mute and camera flags, hand, and their screen on the stage. */
export function showPeerState(screen, stage, peerId, state) {
  screen.setPeerMedia(peerId, { muted: !state.audio, cameraOn: Boolean(state.video) });
  screen.setPeerHand(peerId, Boolean(state.hand));
  stage.announce(peerId, state.screen ?? null);
}
