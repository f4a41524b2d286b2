// The speaker (audio output) choice, where the browser can send a media element's sound to a
// chosen device (HTMLMediaElement.setSinkId). The select lists the outputs enumerateDevices
// names; where the browser lists none but can ask (navigator.mediaDevices.selectAudioOutput,
// Firefox), it offers to. Without setSinkId, or with neither, the choice stays hidden.
//
// The choice is remembered in localStorage and applied to every <audio>/<video> under `root`
// (the call: each person's tile, the shared screen), and to each tile added later.

import { gettext, interpolate } from "./i18n.js";

const STORAGE_KEY = "audioexchange:audio-output";
const ASK = "ask"; // the option that asks the browser for another output (selectAudioOutput)

function option(value, label) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = label;
  return node;
}

export class AudioOutput {
  #sinkId = "";
  #listed = [];

  /** @param field - what to hide when there is no choice; select - the <select>; root - the call */
  constructor({ field, select, root, storage = window.localStorage }) {
    this.field = field;
    this.select = select;
    this.root = root;
    this.storage = storage;
  }

  static get supported() {
    return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
  }

  /** The outputs are listed with their names (the browser gives them once capture is allowed). */
  get named() {
    return this.#listed.some((device) => device.label);
  }

  get #canAsk() {
    return typeof navigator.mediaDevices?.selectAudioOutput === "function";
  }

  async start() {
    if (!this.select || !AudioOutput.supported) return;
    this.#sinkId = this.storage.getItem(STORAGE_KEY) ?? "";
    this.select.addEventListener("change", () => this.#choose(this.select.value));
    navigator.mediaDevices?.addEventListener("devicechange", () => this.refresh());
    await this.refresh();
  }

  /** List the outputs again (after capture was allowed, names appear; devices come and go). */
  async refresh() {
    if (!this.select || !AudioOutput.supported) return;
    const devices = (await navigator.mediaDevices?.enumerateDevices?.()) ?? [];
    this.#listed = devices.filter((device) => device.kind === "audiooutput" && device.deviceId);
    const choices = this.#listed.map(({ deviceId, label }, index) => option(deviceId, label || interpolate(gettext("Speaker %(number)s"), { number: index + 1 })));
    if (this.#canAsk) choices.push(option(ASK, gettext("Choose another speaker…")));
    this.select.replaceChildren(...choices);
    this.field.hidden = choices.length === 0;
    if (this.#listed.some((device) => device.deviceId === this.#sinkId)) this.select.value = this.#sinkId;
  }

  /** Send this element's sound to the chosen output (a no-op until one is chosen). */
  async apply(element) {
    const sinkId = this.#listed.some((device) => device.deviceId === this.#sinkId) ? this.#sinkId : "";
    if (!AudioOutput.supported || element.sinkId === sinkId) return;
    await element.setSinkId(sinkId).catch((error) => console.warn("[audio output]", error));
  }

  /** Apply the choice to every player under `root`, the tile just added included. */
  async applyAll(root = this.root) {
    await Promise.all([...(root?.querySelectorAll("audio, video") ?? [])].map((element) => this.apply(element)));
  }

  async #choose(value) {
    let deviceId = value;
    if (value === ASK) {
      try {
        deviceId = (await navigator.mediaDevices.selectAudioOutput()).deviceId;
      } catch {
        deviceId = this.#sinkId; // the person closed the browser's question
      }
    }
    this.#sinkId = deviceId;
    this.storage.setItem(STORAGE_KEY, deviceId);
    await this.refresh();
    await this.applyAll();
  }
}
