// Server-side recording: the owner's Start/Stop buttons and the indicator everyone sees.
//
// While a room is recorded, the media worker joins the mesh as the reserved peer "server"
// (docs/protocol.md, "Recording"): it offers to receive, the mesh answers sendonly, and no
// tile is shown for it. This module only drives the controls and says what is happening.

import { gettext, interpolate } from "./i18n.js";

export const SERVER_PEER_ID = "server";

/** Before joining: say that the call is being recorded (the page knows from call_config). */
export function showRecordingNotice(prejoinRoot) {
  const notice = document.createElement("p");
  notice.className = "recording-notice";
  notice.setAttribute("role", "status");
  notice.textContent = gettext("This call is being recorded");
  prejoinRoot.querySelector(".prejoin-panel")?.prepend(notice);
}

export class RecordingControls {
  #send;
  #indicator;
  #start = null;
  #stop = null;

  /**
   * @param root - the call section (#call); the indicator goes above the grid, buttons into the
   *   toolbar's "More" controls
   * @param canRecord - show the buttons (the room's owner)
   * @param send - function(message) that puts one signaling message on the socket
   */
  constructor({ root, canRecord, send }) {
    this.#send = send;
    this.active = false;
    this.#indicator = document.createElement("p");
    this.#indicator.className = "recording-indicator";
    this.#indicator.setAttribute("role", "status");
    this.#indicator.hidden = true;
    root.querySelector(".call-body")?.before(this.#indicator);
    if (canRecord) this.#addButtons(root.querySelector("#more-controls"));
  }

  /** From `welcome.room.recording` or a `recording` message. */
  setActive(active, by = "") {
    this.active = Boolean(active);
    this.#indicator.hidden = !this.active;
    const badge = document.createElement("span");
    badge.className = "rec-badge";
    badge.textContent = "REC";
    const what = by ? interpolate(gettext("Recording, started by %(name)s"), { name: by }) : gettext("Recording");
    this.#indicator.replaceChildren(badge, ` ${what}`);
    if (this.#start) this.#start.hidden = this.active;
    if (this.#stop) this.#stop.hidden = !this.active;
    for (const button of [this.#start, this.#stop]) if (button) button.disabled = false;
  }

  #addButtons(controls) {
    if (!controls) return;
    this.#start = this.#button(gettext("Start recording"), "start");
    this.#stop = this.#button(gettext("Stop recording"), "stop");
    this.#start.dataset.icon = "circle-dot";
    this.#stop.dataset.icon = "square";
    this.#stop.hidden = true;
    controls.append(this.#start, this.#stop);
  }

  #button(label, action) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = label;
    button.addEventListener("click", () => {
      button.disabled = true; // until the room's `recording` message (or an error) comes back
      this.#send({ type: "recording", action });
    });
    return button;
  }

  /** An error answered our request: let the owner try again. */
  enable() {
    for (const button of [this.#start, this.#stop]) if (button) button.disabled = false;
  }
}
