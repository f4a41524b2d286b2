// Knock to enter, seen by the one knocking: they wait on the pre-join screen ("Asking to be let
// in…", their own preview, a Cancel button), not in an empty call screen; the call screen comes
// back when they are let in, or turned away (it says why).

import { gettext } from "./i18n.js";

export class WaitingRoom {
  #prejoin;
  #call;
  #media;

  constructor({ prejoinRoot, callRoot, media, onCancel }) {
    this.#prejoin = prejoinRoot;
    this.#call = callRoot;
    this.#media = media;
    this.status = prejoinRoot.querySelector("#prejoin-status");
    this.cancelButton = prejoinRoot.querySelector("#cancel-knock");
    this.cancelButton.addEventListener("click", onCancel);
  }

  /** `waiting`: the room asks a moderator; `message` says so. */
  show(message) {
    for (const selector of ["#join-button", "#preview-button", "#capture-stuck", "#devices", ".mic-level"]) {
      const element = this.#prejoin.querySelector(selector);
      if (element) element.hidden = true;
    }
    this.cancelButton.hidden = false;
    this.status.classList.remove("error");
    this.status.textContent = `${gettext("Asking to be let in…")} ${message}`;
    const preview = this.#prejoin.querySelector("video");
    if (preview && this.#media.stream) preview.srcObject = this.#media.stream;
    this.#call.hidden = true;
    this.#prejoin.hidden = false;
    this.cancelButton.focus();
  }

  /** Let in (`welcome`), turned away, or the call ended: back to the call screen. */
  hide() {
    if (this.#prejoin.hidden) return;
    const preview = this.#prejoin.querySelector("video");
    if (preview) preview.srcObject = null;
    this.#prejoin.hidden = true;
    this.#call.hidden = false;
    this.#call.querySelector("#mute-button")?.focus(); // Cancel, which had it, is gone
  }
}
