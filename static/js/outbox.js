// What a person sends over the socket, kept until the server has it: nothing typed is lost.
//
// Chat lines carry an idempotency key (`id`, docs/protocol.md): they are kept (in
// sessionStorage too, so a reload keeps them) until the server's copy of the line comes back,
// sent again after every reconnect (the server stores a key once), and marked "failed" when
// the call ends or no answer comes. Other actions (moderation, recording) have no answer: they
// wait for the connection and are sent once.
//
// Events: "change" {id, state, message} with state "sending" | "failed" | "delivered".

import { Emitter } from "./emitter.js";

const ACK_TIMEOUT_MS = 10000;
const TOO_FAST_RETRY_MS = 1100;

export function newId() {
  return crypto.randomUUID();
}

export class Outbox extends Emitter {
  #send;
  #storage;
  #key;
  #online = false;
  #items = new Map(); // id -> {message, state}
  #once = []; // actions without an answer, waiting for the connection
  #timers = new Map();

  constructor({ send, storageKey, storage = window.sessionStorage }) {
    super();
    this.#send = send;
    this.#storage = storage;
    this.#key = storageKey;
    for (const { message, state } of this.#load()) this.#items.set(message.id, { message, state });
  }

  /** Lines kept from before (a reload): [{message, state}]. */
  pending() {
    return [...this.#items.values()];
  }

  /** A message the server answers by echoing its `id` (chat); returns that id. */
  add(message) {
    const kept = { ...message, id: newId() };
    this.#items.set(kept.id, { message: kept, state: "sending" });
    this.#changed(kept.id);
    this.#transmit(kept.id);
    return kept.id;
  }

  /** A message without an answer: sent now if connected, else once connected. */
  sendOnce(message) {
    if (!this.#online || !this.#send(message)) this.#once.push(message);
  }

  /** The server is reachable (after `welcome`): send everything waiting. */
  connected() {
    this.#online = true;
    for (const message of this.#once.splice(0)) this.sendOnce(message);
    for (const [id, item] of this.#items) if (item.state === "sending") this.#transmit(id);
  }

  /** The socket is down: what was sent but not answered goes again after the reconnect. */
  disconnected() {
    this.#online = false;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** The call is over: nothing more will go; what waits is marked "failed". */
  giveUp() {
    this.disconnected();
    this.#once = [];
    for (const [id, item] of this.#items) if (item.state === "sending") this.#fail(id);
  }

  /** The server's copy of line `id` arrived (live, or in `welcome.chat`). */
  acknowledge(id) {
    if (!id || !this.#items.has(id)) return;
    clearTimeout(this.#timers.get(id));
    const { message } = this.#items.get(id);
    this.#items.delete(id);
    this.#save();
    this.emit("change", { id, state: "delivered", message });
  }

  /** The server refused line `id`; too fast is tried again shortly, anything else fails. */
  refuse(id, code) {
    if (!this.#items.has(id)) return;
    clearTimeout(this.#timers.get(id));
    if (code.endsWith("_too_fast")) {
      this.#timers.set(id, setTimeout(() => this.#transmit(id), TOO_FAST_RETRY_MS));
    } else {
      this.#fail(id);
    }
  }

  /** Try a failed line again. */
  retry(id) {
    const item = this.#items.get(id);
    if (!item) return;
    item.state = "sending";
    this.#changed(id);
    this.#transmit(id);
  }

  #transmit(id) {
    const item = this.#items.get(id);
    if (!item || item.state !== "sending" || !this.#online) return;
    if (!this.#send(item.message)) return; // the socket just went; `connected()` sends it
    clearTimeout(this.#timers.get(id));
    this.#timers.set(id, setTimeout(() => this.#fail(id), ACK_TIMEOUT_MS));
  }

  #fail(id) {
    const item = this.#items.get(id);
    if (!item) return;
    item.state = "failed";
    this.#changed(id);
  }

  #changed(id) {
    this.#save();
    const { message, state } = this.#items.get(id);
    this.emit("change", { id, state, message });
  }

  #load() {
    try {
      const saved = JSON.parse(this.#storage?.getItem(this.#key) ?? "[]");
      return Array.isArray(saved) ? saved.filter((item) => typeof item?.message?.id === "string") : [];
    } catch {
      return [];
    }
  }

  #save() {
    try {
      const items = this.pending();
      if (items.length) this.#storage?.setItem(this.#key, JSON.stringify(items));
      else this.#storage?.removeItem(this.#key);
    } catch {
      // Storage full or refused (private mode): the outbox still works for this page's life.
    }
  }
}
