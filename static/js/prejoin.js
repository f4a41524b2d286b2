// The pre-join screen: preview the camera and microphone, pick devices, choose audio only, Join.
//
// Capture starts from a click (the preview button or Join) unless the browser already allows
// it, so nobody is asked for their camera just by opening the page. The device selects live
// in #devices and move into the call's controls after joining, still wired to LocalMedia.

import { gettext, interpolate } from "./i18n.js";
import { CaptureAbandoned } from "./media.js";
import { MicLevelMeter } from "./micmeter.js";
import { initials } from "./ui.js";

// How long the browser may take to answer getUserMedia before the page says so and offers to
// join without the devices: a busy or wedged camera driver can leave it pending for ever.
export const CAPTURE_PATIENCE_MS = 10_000;

export function describeMediaError(error) {
  switch (error?.name) {
    case "NotAllowedError":
      return gettext("Camera and microphone access is blocked: allow it in the browser's site settings, then try again.");
    case "NotFoundError":
      return gettext("No microphone was found.");
    case "NotReadableError":
      return gettext("The microphone or camera is in use by another application.");
    case "OverconstrainedError":
      return gettext("The selected device is not available; choose another.");
    default:
      return error?.message || gettext("Could not start the camera or microphone.");
  }
}

async function alreadyAllowed(names) {
  try {
    const states = await Promise.all(names.map((name) => navigator.permissions.query({ name })));
    return states.every((status) => status.state === "granted");
  } catch {
    return false; // Permissions API without camera/microphone support (Firefox, older Safari)
  }
}

function fillSelect(select, devices, currentId) {
  const previous = select.value;
  // Browsers list devices by name only once capture is allowed; until then, "default" it is.
  const choices = devices.length ? devices : [{ deviceId: "", label: gettext("System default") }];
  select.replaceChildren(
    ...choices.map(({ deviceId, label }) => {
      const option = document.createElement("option");
      option.value = deviceId;
      option.textContent = label;
      return option;
    }),
  );
  const wanted = currentId || previous;
  if (devices.some((device) => device.deviceId === wanted)) select.value = wanted;
  select.disabled = devices.length === 0;
}

export class PreJoinScreen {
  #media;
  #listenOnly = false;
  #starting = null;
  #unsubscribe = [];
  #join = () => {};
  #meter;

  constructor({ root, media, audioOnlyRoom, displayName }) {
    this.root = root;
    this.#media = media;
    this.audioOnlyRoom = audioOnlyRoom;
    this.tile = root.querySelector("#preview-tile");
    this.video = this.tile.querySelector("video");
    this.tile.querySelector(".avatar").textContent = initials(displayName);
    this.devices = document.querySelector("#devices");
    this.micSelect = document.querySelector("#mic-select");
    this.cameraSelect = document.querySelector("#camera-select");
    this.audioOnlyToggle = root.querySelector("#audio-only-toggle");
    this.status = root.querySelector("#prejoin-status");
    this.previewButton = root.querySelector("#preview-button");
    this.joinButton = root.querySelector("#join-button");
    this.stuck = root.querySelector("#capture-stuck");
    this.withoutDevicesButton = root.querySelector("#join-without-devices");
    this.audioOnlyButton = root.querySelector("#join-audio-only");
    this.#meter = new MicLevelMeter(root.querySelector("#mic-level"));
  }

  /** Resolves once Join is clicked and local media is ready (or declined: listen only). */
  async run() {
    this.#wire();
    const joined = new Promise((resolve) => {
      this.#join = resolve;
      this.joinButton.addEventListener("click", async () => {
        if (await this.#readyToJoin()) resolve();
      });
    });
    this.joinButton.disabled = false; // the page renders it disabled until this script listens
    await this.#refreshDevices();
    const kinds = this.audioOnlyRoom ? ["microphone"] : ["microphone", "camera"];
    // Not awaited: a capture that never answers must not keep Join (or the way round it) away.
    if (!this.#media.started && (await alreadyAllowed(kinds))) this.#preview();
    await joined;
    this.root.hidden = true;
    this.#meter.stop();
    if (this.video) this.video.srcObject = null;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    return { audioOnly: this.wantsAudioOnly };
  }

  get wantsAudioOnly() {
    return this.audioOnlyRoom || Boolean(this.audioOnlyToggle?.checked);
  }

  #wire() {
    this.previewButton.addEventListener("click", () => this.#preview());
    this.micSelect.addEventListener("change", () => this.#switch(() => this.#media.useMicrophone(this.micSelect.value)));
    this.cameraSelect?.addEventListener("change", () => this.#switch(() => this.#media.useCamera(this.cameraSelect.value)));
    this.audioOnlyToggle?.addEventListener("change", () => this.#audioOnlyChanged());
    this.withoutDevicesButton.addEventListener("click", () => this.#joinWithoutDevices());
    this.audioOnlyButton?.addEventListener("click", () => this.#retryWithAudioOnly());
    this.#unsubscribe.push(
      this.#media.on("track", () => this.#showPreview()),
      this.#media.on("state", () => this.#showPreview()),
    );
    this.#media.on("devices", () => this.#refreshDevices());
  }

  #preview() {
    // One capture at a time, however many clicks (preview, then Join) arrive meanwhile.
    if (this.#starting) return this.#starting;
    const starting = this.#startPreview().finally(() => {
      if (this.#starting === starting) this.#starting = null; // not a newer one (audio only)
    });
    this.#starting = starting;
    return starting;
  }

  async #startPreview() {
    this.#say(this.wantsAudioOnly ? gettext("Starting the microphone…") : gettext("Starting the microphone and camera…"));
    this.joinButton.disabled = true;
    this.stuck.hidden = true;
    const watchdog = setTimeout(() => this.#captureStuck(), CAPTURE_PATIENCE_MS);
    try {
      const cameraError = await this.#media.start({ video: !this.wantsAudioOnly });
      const unavailable = gettext("Camera unavailable, joining with audio only: %(problem)s");
      this.#say(cameraError ? interpolate(unavailable, { problem: describeMediaError(cameraError) }) : "");
      this.previewButton.hidden = true;
      this.stuck.hidden = true;
      await this.#refreshDevices();
    } catch (error) {
      if (error instanceof CaptureAbandoned) return;
      this.stuck.hidden = true;
      this.#say(describeMediaError(error), true);
    } finally {
      clearTimeout(watchdog);
      this.joinButton.disabled = false;
      this.#showPreview();
    }
  }

  /** getUserMedia has not answered in CAPTURE_PATIENCE_MS: say so, and offer a way in. */
  #captureStuck() {
    let stuck;
    if (this.wantsAudioOnly) {
      stuck = gettext("Your microphone has not answered for %(seconds)s seconds: another application may be using it, or the browser is still asking. You can join without it.");
    } else if (this.audioOnlyButton) {
      stuck = gettext("Your camera and microphone have not answered for %(seconds)s seconds: another application may be using them, or the browser is still asking. You can join without them, or with audio only.");
    } else {
      stuck = gettext("Your camera and microphone have not answered for %(seconds)s seconds: another application may be using them, or the browser is still asking. You can join without them.");
    }
    this.#say(interpolate(stuck, { seconds: CAPTURE_PATIENCE_MS / 1000 }), true);
    if (this.audioOnlyButton) this.audioOnlyButton.hidden = this.wantsAudioOnly;
    this.stuck.hidden = false;
  }

  #joinWithoutDevices() {
    this.#media.abandonCapture();
    this.#listenOnly = true;
    this.#join();
  }

  async #retryWithAudioOnly() {
    this.#media.abandonCapture();
    this.#starting = null; // the camera's capture may never answer: do not wait for it
    if (this.audioOnlyToggle) this.audioOnlyToggle.checked = true;
    if (this.cameraSelect) this.cameraSelect.disabled = true;
    await this.#preview();
    if (this.#media.started) this.#join();
  }

  async #readyToJoin() {
    if (!this.#media.started && !this.#listenOnly) await this.#preview();
    if (this.#media.started || this.#listenOnly) return true;
    // Second chance: join anyway and only listen, rather than be stuck on this screen.
    this.#listenOnly = true;
    this.joinButton.textContent = gettext("Join without microphone");
    return false;
  }

  async #audioOnlyChanged() {
    if (this.cameraSelect) this.cameraSelect.disabled = this.audioOnlyToggle.checked;
    if (!this.#media.started) return;
    if (this.audioOnlyToggle.checked) this.#media.stopCamera();
    else await this.#switch(() => this.#media.startCamera());
  }

  async #switch(action) {
    try {
      await action();
      this.#say("");
    } catch (error) {
      this.#say(describeMediaError(error), true);
    }
  }

  async #refreshDevices() {
    const { audioinput, videoinput } = await this.#media.listDevices();
    fillSelect(this.micSelect, audioinput, this.#media.currentDeviceId("audio"));
    if (this.cameraSelect) {
      fillSelect(this.cameraSelect, videoinput, this.#media.currentDeviceId("video"));
      if (this.audioOnlyToggle?.checked) this.cameraSelect.disabled = true;
    }
  }

  #showPreview() {
    const cameraOn = this.#media.cameraOn;
    this.tile.classList.toggle("has-video", cameraOn);
    if (this.video && this.video.srcObject !== this.#media.stream) this.video.srcObject = this.#media.stream;
    this.#meter.listen(this.#media.audioTrack);
  }

  #say(text, isError = false) {
    this.status.textContent = text;
    this.status.classList.toggle("error", isError);
  }
}
