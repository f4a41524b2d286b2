// Screen sharing: our own share, sent to every peer as an extra video track, and the stage
// where someone else's shared screen is shown large.
//
// How a receiver knows a track is a screen: the sharer announces the id of the MediaStream
// holding it in `media-state.screen` (docs/protocol.md); that id is the stream's msid in the
// SDP, so the receiving side's track event carries a stream with the same id. The mesh hands
// over every video track beyond the camera ("extra-track"); the stage shows one only once
// both the track and the matching announcement are there.
//
// ScreenShare events: "change" (stream id | null), "error" (a sentence for the person).

import { gettext, interpolate } from "./i18n.js";
import { Emitter } from "./emitter.js";

/** The default capture: the browser asks which screen, window or tab to share. */
export function captureDisplay() {
  if (!navigator.mediaDevices?.getDisplayMedia) throw new Error(gettext("This browser cannot share its screen."));
  return navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
}

export const RELAY_SHARE_MESSAGE =
  gettext("Screen sharing is not available while the call goes through the server relay (large rooms) yet.");

/** The "You are presenting" bar over the call, shown while `share` runs; its button stops it. */
export function showWhilePresenting(bar, share) {
  if (!bar) return;
  bar.querySelector("button").addEventListener("click", () => share.stop());
  share.on("change", (streamId) => {
    bar.hidden = !streamId;
  });
}

export class ScreenShare extends Emitter {
  #stream = null;

  /** @param capture - async () => MediaStream with one video track (injectable; captureDisplay by default) */
  constructor({ mesh, button, capture = captureDisplay }) {
    super();
    this.mesh = mesh;
    this.button = button;
    this.capture = capture;
    button?.addEventListener("click", () => (this.#stream ? this.stop() : this.start()));
  }

  get streamId() {
    return this.#stream?.id ?? null;
  }

  async start() {
    if (this.#stream) return;
    if (this.mesh.canShareScreen === false) return this.emit("error", RELAY_SHARE_MESSAGE);
    let stream;
    try {
      stream = await this.capture();
    } catch (error) {
      // NotAllowedError: the person closed the picker; nothing to report but that it did not start.
      const problem = interpolate(gettext("Screen sharing: %(problem)s"), { problem: error.message });
      this.emit("error", error?.name === "NotAllowedError" ? gettext("Screen sharing was not started.") : problem);
      return;
    }
    const [track] = stream.getVideoTracks();
    if (!track) return this.emit("error", gettext("Screen sharing: the capture had no picture."));
    track.contentHint = "detail"; // text stays sharp: resolution over frame rate
    // The browser's own "Stop sharing" ends the track: restore the camera layout then too.
    track.addEventListener("ended", () => this.stop());
    this.#stream = stream;
    this.mesh.setExtraTrack(track, stream);
    this.#render();
    this.emit("change", stream.id);
  }

  stop() {
    const stream = this.#stream;
    if (!stream) return;
    this.#stream = null;
    for (const track of stream.getTracks()) track.stop();
    this.mesh.setExtraTrack(null);
    this.#render();
    this.emit("change", null);
  }

  #render() {
    if (!this.button) return;
    this.button.setAttribute("aria-pressed", String(Boolean(this.#stream)));
    this.button.textContent = this.#stream ? gettext("Stop sharing") : gettext("Share screen");
  }
}

export class ScreenStage {
  #announced = new Map(); // peerId -> announced screen stream id, latest announcement last
  #tracks = new Map(); // peerId -> {track, stream}
  #names = new Map();

  /**
   * @param root - the #stage figure (a video and a caption); its parent gets class "staged" while
   *   shown. Audio-only rooms have none: nothing is ever shown there.
   */
  constructor(root) {
    this.root = root;
    this.video = root?.querySelector("video");
    this.caption = root?.querySelector("figcaption");
  }

  setName(peerId, name) {
    this.#names.set(peerId, name);
    this.#render();
  }

  /** What `media-state.screen` says for `peerId` (null: not sharing). */
  announce(peerId, streamId) {
    if (this.#announced.get(peerId) === (streamId ?? undefined)) return;
    this.#announced.delete(peerId);
    if (streamId) this.#announced.set(peerId, streamId);
    this.#render();
  }

  addTrack(peerId, track, stream) {
    this.#tracks.set(peerId, { track, stream });
    track.addEventListener("ended", () => this.#render());
    this.#render();
  }

  removePeer(peerId) {
    this.#announced.delete(peerId);
    this.#tracks.delete(peerId);
    this.#names.delete(peerId);
    this.#render();
  }

  #showing() {
    for (const peerId of [...this.#announced.keys()].reverse()) {
      const received = this.#tracks.get(peerId);
      if (received?.stream.id === this.#announced.get(peerId) && received.track.readyState === "live") {
        return { peerId, ...received };
      }
    }
    return null;
  }

  #render() {
    if (!this.root) return;
    const shown = this.#showing();
    this.root.hidden = !shown;
    this.root.parentElement?.classList.toggle("staged", Boolean(shown));
    this.root.dataset.peerId = shown?.peerId ?? "";
    if (!shown) {
      this.video.srcObject = null;
      return;
    }
    if (this.video.srcObject !== shown.stream) this.video.srcObject = shown.stream;
    this.video.play?.().catch(() => {});
    const name = this.#names.get(shown.peerId) || gettext("Someone");
    this.caption.textContent = interpolate(gettext("%(name)s is sharing their screen"), { name });
  }
}
