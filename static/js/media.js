// Local camera and microphone: capture, device choice, mute and camera on/off.
//
// One MediaStream holds at most one audio and one video track. Whenever the track of a kind
// changes (device switch, camera on/off) "track" {kind, track|null} is emitted so the mesh can
// replaceTrack() on every sender without renegotiating. "state" {muted, cameraOn} follows the
// toggles; "devices" fires when devices are plugged in or out.
// Audio-only rooms never ask for a camera: startCamera() refuses there.

import { gettext, interpolate } from "./i18n.js";
import { Emitter } from "./emitter.js";

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
// Modest on purpose: in a mesh every peer encodes one copy per other participant.
const VIDEO = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 30 } };

/** A capture that was given up on (`abandonCapture`) before the browser answered. */
export class CaptureAbandoned extends Error {
  constructor() {
    super("The capture was given up on.");
    this.name = "CaptureAbandoned";
  }
}

function withDevice(base, deviceId) {
  return deviceId ? { ...base, deviceId: { exact: deviceId } } : { ...base };
}

export class LocalMedia extends Emitter {
  #audioDeviceId = "";
  #videoDeviceId = "";
  #captures = 0; // bumped by each start() and abandonCapture(): a late answer is for an old one

  constructor({ audioOnlyRoom }) {
    super();
    this.audioOnlyRoom = audioOnlyRoom;
    this.stream = new MediaStream();
    this.muted = false;
    navigator.mediaDevices?.addEventListener("devicechange", () => this.emit("devices"));
  }

  get audioTrack() {
    return this.stream.getAudioTracks()[0] ?? null;
  }

  get videoTrack() {
    return this.stream.getVideoTracks()[0] ?? null;
  }

  get cameraOn() {
    return this.videoTrack !== null;
  }

  get started() {
    return this.stream.getTracks().length > 0;
  }

  get supported() {
    return Boolean(navigator.mediaDevices?.getUserMedia);
  }

  /**
   * Capture the microphone and, unless `video` is false or the room is audio-only, the camera.
   * Without a usable camera this falls back to audio only; the camera error is returned then.
   */
  async start({ video = true } = {}) {
    if (!this.supported) throw new Error(gettext("This browser cannot capture audio (it needs HTTPS or localhost)."));
    this.stop();
    const capture = ++this.#captures;
    const wantVideo = video && !this.audioOnlyRoom;
    let captured;
    let cameraError = null;
    try {
      captured = await this.#capture(true, wantVideo);
    } catch (error) {
      if (!wantVideo || capture !== this.#captures) throw error;
      cameraError = error;
      captured = await this.#capture(true, false);
    }
    if (capture !== this.#captures) {
      // The person moved on (joined without devices, or asked again): release what came late.
      for (const track of captured.getTracks()) track.stop();
      throw new CaptureAbandoned();
    }
    for (const track of captured.getTracks()) this.#setTrack(track.kind, track);
    this.emit("state", this.#state());
    return cameraError;
  }

  /** Give up on a start() the browser has not answered: whatever it answers later is released. */
  abandonCapture() {
    this.#captures += 1;
  }

  /** Microphones and cameras, labelled once the user has allowed capture. */
  async listDevices() {
    if (!navigator.mediaDevices?.enumerateDevices) return { audioinput: [], videoinput: [] };
    const devices = await navigator.mediaDevices.enumerateDevices();
    const pick = (kind, unnamed) =>
      devices
        .filter((device) => device.kind === kind && device.deviceId)
        .map((device, index) => ({ deviceId: device.deviceId, label: device.label || interpolate(unnamed, { number: index + 1 }) }));
    return {
      audioinput: pick("audioinput", gettext("Microphone %(number)s")),
      videoinput: pick("videoinput", gettext("Camera %(number)s")),
    };
  }

  currentDeviceId(kind) {
    const track = kind === "audio" ? this.audioTrack : this.videoTrack;
    return track?.getSettings().deviceId || (kind === "audio" ? this.#audioDeviceId : this.#videoDeviceId);
  }

  async useMicrophone(deviceId) {
    this.#audioDeviceId = deviceId;
    if (!this.audioTrack) return;
    const stream = await navigator.mediaDevices.getUserMedia({ audio: withDevice(AUDIO, deviceId) });
    this.#setTrack("audio", stream.getAudioTracks()[0]);
  }

  async useCamera(deviceId) {
    this.#videoDeviceId = deviceId;
    if (this.cameraOn) await this.startCamera();
  }

  setMuted(muted) {
    this.muted = muted;
    // A disabled track sends silence: the connection and its negotiation stay as they are.
    if (this.audioTrack) this.audioTrack.enabled = !muted;
    this.emit("state", this.#state());
  }

  async startCamera() {
    if (this.audioOnlyRoom) throw new Error(gettext("This is an audio-only room."));
    // Phones often cannot open a second camera while the first is held: release it first.
    this.#removeTrack("video");
    const stream = await navigator.mediaDevices.getUserMedia({ video: withDevice(VIDEO, this.#videoDeviceId) });
    this.#setTrack("video", stream.getVideoTracks()[0]);
    this.emit("state", this.#state());
  }

  stopCamera() {
    // Stopping (not just disabling) the track turns the camera light off.
    this.#removeTrack("video");
    this.emit("state", this.#state());
  }

  stop() {
    for (const track of this.stream.getTracks()) {
      track.stop();
      this.stream.removeTrack(track);
    }
  }

  async #capture(audio, video) {
    return navigator.mediaDevices.getUserMedia({
      audio: audio ? withDevice(AUDIO, this.#audioDeviceId) : false,
      video: video ? withDevice(VIDEO, this.#videoDeviceId) : false,
    });
  }

  #setTrack(kind, track) {
    for (const old of kind === "audio" ? this.stream.getAudioTracks() : this.stream.getVideoTracks()) {
      if (old === track) continue;
      old.stop();
      this.stream.removeTrack(old);
    }
    if (kind === "audio") track.enabled = !this.muted;
    this.stream.addTrack(track);
    this.emit("track", { kind, track });
  }

  #removeTrack(kind) {
    const old = kind === "audio" ? this.audioTrack : this.videoTrack;
    if (!old) return;
    old.stop();
    this.stream.removeTrack(old);
    this.emit("track", { kind, track: null });
  }

  #state() {
    return { muted: this.muted, cameraOn: this.cameraOn };
  }
}
