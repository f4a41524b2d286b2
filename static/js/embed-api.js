// Audio Exchange in your own page: the embedding page's side of an embedded call
// (docs/embedding.md). Load it as a module from the Audio Exchange site:
//
//   import { AudioExchangeCall } from "https://call.example.org/static/js/embed-api.js";
//   const call = AudioExchangeCall.create(document.getElementById("call"), { url: joinUrl });
//   call.on("joined", ({ peerId, name, moderator }) => ...);
//   await call.mute();
//
// It talks to the call page in the <iframe> over postMessage (static/js/embed.js is the other
// side): commands go only to the call page's origin (the iframe's `src`), and only messages
// from that frame and that origin are taken as events or replies. The call page takes commands
// only from pages on its EMBED_ALLOWED_ORIGINS.
//
// Commands return promises: resolved once done, rejected with an EmbedCommandError whose `code`
// says why (not_in_call, not_moderator, audio_only_room, unknown_command, no_answer).
// Events: ready, joined, left, participant-joined, participant-left, recording.

const PROTOCOL = "audio-exchange-embed/1";
// What the frame needs from the browser: the call's devices, a shared screen, sound.
const FRAME_PERMISSIONS = "camera; microphone; display-capture; autoplay";

/** A command the call page refused or never answered. */
export class EmbedCommandError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "EmbedCommandError";
    this.code = code;
  }
}

export class AudioExchangeCall {
  #frame;
  #origin;
  #handlers = new Map();
  #pending = new Map(); // command id -> {resolve, reject, timer}
  #waiting = []; // commands sent before the call page said `ready`
  #ready = false;
  #nextId = 1;
  #timeoutMs;

  /**
   * Drive the call page already in `frame` (an <iframe> whose src is the room's address, e.g. its
   * `/rooms/<slug>/?jwt=<join token>`). `timeoutMs`: how long a command may go unanswered.
   */
  constructor(frame, { timeoutMs = 10_000 } = {}) {
    this.#frame = frame;
    this.#origin = new URL(frame.src, document.baseURI).origin;
    this.#timeoutMs = timeoutMs;
    window.addEventListener("message", (event) => this.#receive(event));
  }

  /** Put the call page at `url` in a new <iframe> inside `container`, with the permissions it needs. */
  static create(container, { url, title = "Call", timeoutMs } = {}) {
    const frame = document.createElement("iframe");
    frame.allow = FRAME_PERMISSIONS;
    frame.title = title;
    frame.src = url;
    container.append(frame);
    return new AudioExchangeCall(frame, { timeoutMs });
  }

  get frame() {
    return this.#frame;
  }

  /** Call `handler(detail)` on each `event`; returns a function that stops it. */
  on(event, handler) {
    if (!this.#handlers.has(event)) this.#handlers.set(event, new Set());
    this.#handlers.get(event).add(handler);
    return () => this.#handlers.get(event)?.delete(handler);
  }

  mute() {
    return this.#command("mute");
  }

  unmute() {
    return this.#command("unmute");
  }

  cameraOn() {
    return this.#command("camera-on");
  }

  cameraOff() {
    return this.#command("camera-off");
  }

  leave() {
    return this.#command("leave");
  }

  /** End the call for everyone in the room (moderators only: others get `not_moderator`). */
  endForAll() {
    return this.#command("end-for-all");
  }

  #command(command) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new EmbedCommandError("no_answer", `The call page did not answer “${command}”.`));
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      const message = { protocol: PROTOCOL, type: "command", id, command };
      if (this.#ready) this.#post(message);
      else this.#waiting.push(message);
    });
  }

  #post(message) {
    this.#frame.contentWindow?.postMessage(message, this.#origin);
  }

  #receive(event) {
    if (event.origin !== this.#origin || event.source !== this.#frame.contentWindow) return;
    const message = event.data;
    if (message?.protocol !== PROTOCOL) return;
    if (message.type === "reply") this.#settle(message);
    if (message.type !== "event") return;
    if (message.event === "ready") this.#flush();
    for (const handler of [...(this.#handlers.get(message.event) ?? [])]) {
      try {
        handler(message.detail ?? {});
      } catch (error) {
        console.error(`[audio-exchange] ${message.event} handler failed`, error);
      }
    }
  }

  #flush() {
    this.#ready = true;
    for (const message of this.#waiting.splice(0)) this.#post(message);
  }

  #settle({ id, ok, code, message }) {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (ok) pending.resolve();
    else pending.reject(new EmbedCommandError(code, message));
  }
}
