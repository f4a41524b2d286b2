// The call page inside another site's <iframe> (docs/embedding.md): commands from the embedding
// page come in over postMessage, events go back out. static/js/embed-api.js is the other side.
//
// Only the parent window is listened to, and only when its origin is one of
// EMBED_ALLOWED_ORIGINS (#call-config `embed_origins`); events are posted to those origins only
// (postMessage drops a message whose target origin is not the parent's). Outside a frame, or
// with no origin allowed, the bridge does nothing.
//
// Messages, both ways: {protocol: "audio-exchange-embed/1", ...}
//   in:  {type: "command", id, command}             command: mute | unmute | camera-on | camera-off | leave | end-for-all
//   out: {type: "reply", id, ok: true} | {type: "reply", id, ok: false, code, message}
//   out: {type: "event", event, detail}             event: ready | joined | left | participant-joined | participant-left | recording

export const EMBED_PROTOCOL = "audio-exchange-embed/1";
export const EMBED_COMMANDS = ["mute", "unmute", "camera-on", "camera-off", "leave", "end-for-all"];

/** A refused command: `code` for programs, `message` for people. */
export class CommandRefused extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export class EmbedBridge {
  #origins;
  #commands = {};
  #parentOrigin = null; // known once a command came, or from location.ancestorOrigins

  constructor({ origins }) {
    this.#origins = new Set(origins ?? []);
    this.active = window.parent !== window && this.#origins.size > 0;
    if (!this.active) return;
    const ancestor = window.location.ancestorOrigins?.[0]; // Chromium and Safari say who framed us
    if (ancestor && this.#origins.has(ancestor)) this.#parentOrigin = ancestor;
    window.addEventListener("message", (event) => this.#receive(event));
  }

  /** What each command does: {name: () => void | Promise}; throw a CommandRefused to refuse it. */
  handle(commands) {
    this.#commands = commands;
  }

  /** Tell the embedding page that `event` happened. */
  post(event, detail = {}) {
    this.#send({ type: "event", event, detail });
  }

  #receive(event) {
    if (event.source !== window.parent || !this.#origins.has(event.origin)) return;
    const message = event.data;
    if (message?.protocol !== EMBED_PROTOCOL || message.type !== "command") return;
    this.#parentOrigin = event.origin;
    const reply = (result) => this.#send({ type: "reply", id: message.id, ...result });
    Promise.resolve()
      .then(() => this.#run(String(message.command)))
      .then(
        () => reply({ ok: true }),
        (error) => reply({ ok: false, code: error.code ?? "failed", message: error.message }),
      );
  }

  #run(command) {
    if (!Object.hasOwn(this.#commands, command)) {
      throw new CommandRefused("unknown_command", `“${command}” is not a command of the call page.`);
    }
    return this.#commands[command]();
  }

  #send(message) {
    const payload = { protocol: EMBED_PROTOCOL, ...message };
    // Before the parent has spoken (Firefox has no ancestorOrigins), to each allowed origin:
    // the browser delivers it only where the target origin is the parent's.
    for (const origin of this.#parentOrigin ? [this.#parentOrigin] : this.#origins) {
      window.parent.postMessage(payload, origin);
    }
  }
}
