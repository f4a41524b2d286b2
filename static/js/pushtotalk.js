// Push-to-talk for audio rooms: while it is on, the microphone is muted except while the
// space bar is held. Keys typed into a text field (the chat) are left alone, and losing
// focus mutes, so a key released in another window cannot leave the microphone open.

import { typing } from "./keyboard.js";

export class PushToTalk {
  #on = false;

  /** @param toggle - the "Push to talk" checkbox; media - the LocalMedia to unmute while held */
  constructor({ toggle, media }) {
    this.toggle = toggle;
    this.media = media;
    toggle?.addEventListener("change", () => this.setEnabled(toggle.checked));
    window.addEventListener("keydown", (event) => this.#key(event, false));
    window.addEventListener("keyup", (event) => this.#key(event, true));
    window.addEventListener("blur", () => this.#on && this.media.setMuted(true));
  }

  /** Turning it on mutes; turning it off leaves the microphone muted until Unmute is clicked. */
  setEnabled(on) {
    this.#on = on;
    if (this.toggle) this.toggle.checked = on;
    if (on) this.media.setMuted(true);
  }

  #key(event, released) {
    if (!this.#on || event.code !== "Space" || typing(event.target)) return;
    event.preventDefault(); // no page scroll, and no click on a focused button
    if (!event.repeat) this.media.setMuted(released);
  }
}
