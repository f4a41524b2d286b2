// The room's text chat: a side panel with history, a form, and an unread badge.
// Every name and text goes in with textContent: nothing anyone types becomes HTML.
//
// Our own lines go through the outbox (outbox.js): shown at once as "sending…", settled when
// the server's copy comes back, "not sent" with a Retry button when it does not.

import { gettext, interpolate, ngettext } from "./i18n.js";

const MAX_LENGTH = 1000;

export class ChatPanel {
  #outbox;
  #name;
  #unread = 0;
  #seen = new Set();
  #mine = new Map(); // id -> the <li> of our own line not yet settled

  constructor({ root, toggle, outbox, name }) {
    this.root = root;
    this.toggle = toggle;
    this.#outbox = outbox;
    this.#name = name;
    this.list = root.querySelector("#chat-list");
    this.form = root.querySelector("#chat-form");
    this.input = root.querySelector("#chat-input");
    this.status = root.querySelector("#chat-status");
    this.badge = toggle.querySelector(".badge");
    this.input.maxLength = MAX_LENGTH;
    this.toggle.addEventListener("click", () => this.setOpen(this.root.hidden));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    outbox.on("change", ({ id, state, message }) => message.type === "chat" && this.#showState(id, state, message));
    for (const { message, state } of outbox.pending()) {
      if (message.type === "chat") this.#showState(message.id, state, message);
    }
  }

  get open() {
    return !this.root.hidden;
  }

  setOpen(open) {
    this.root.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      this.#unread = 0;
      this.#renderBadge();
      this.input.focus();
    }
  }

  /** The history from `welcome.chat` (again after a reconnect: lines already shown are skipped). */
  load(history) {
    for (const message of history ?? []) this.add(message, { quiet: true });
  }

  /** One line: {name, text, at, id?}; counts as unread while the panel is closed. */
  add({ name, text, at, id }, { quiet = false } = {}) {
    const key = `${at}|${name}|${text}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    if (id && this.#mine.has(id)) {
      this.#settle(this.#mine.get(id), name, at); // our own line, acknowledged
      this.#mine.delete(id);
      return;
    }
    const item = this.#line(name, text);
    this.#settle(item, name, at);
    this.list.append(item);
    this.list.scrollTop = this.list.scrollHeight;
    if (!quiet && !this.open) {
      this.#unread += 1;
      this.#renderBadge();
    }
  }

  /** A refusal from the server about chat (rate limit, length). */
  showError(message) {
    this.status.textContent = message;
  }

  #submit() {
    const text = this.input.value.trim();
    if (!text) return;
    this.#outbox.add({ type: "chat", text });
    this.input.value = "";
    this.status.textContent = "";
  }

  #line(name, text) {
    const item = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = name;
    const when = document.createElement("time");
    const body = document.createElement("p");
    body.textContent = text;
    item.append(who, " ", when, body);
    return item;
  }

  #settle(item, name, at) {
    item.querySelector("strong").textContent = name;
    const when = item.querySelector("time");
    when.dateTime = at;
    when.textContent = new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    item.classList.remove("sending", "failed");
    item.querySelector(".delivery")?.remove();
  }

  /** Our own line `id` is being sent, or failed ("delivered" is settled by `add`). */
  #showState(id, state, message) {
    if (state === "delivered") return;
    let item = this.#mine.get(id);
    if (!item) {
      item = this.#line(this.#name, message.text);
      this.#mine.set(id, item);
      this.list.append(item);
      this.list.scrollTop = this.list.scrollHeight;
    }
    item.classList.toggle("sending", state === "sending");
    item.classList.toggle("failed", state === "failed");
    item.querySelector(".delivery")?.remove();
    item.append(this.#delivery(id, state));
  }

  #delivery(id, state) {
    const note = document.createElement("span");
    note.className = "delivery";
    note.textContent = state === "failed" ? `${gettext("Not sent.")} ` : gettext("Sending…");
    if (state === "failed") {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "link-button";
      retry.textContent = gettext("Retry");
      retry.addEventListener("click", () => this.#outbox.retry(id));
      note.append(retry);
    }
    return note;
  }

  #renderBadge() {
    this.badge.hidden = this.#unread === 0;
    this.badge.textContent = String(this.#unread);
    const unread = interpolate(ngettext("Chat, %(count)s unread", "Chat, %(count)s unread", this.#unread), { count: this.#unread });
    this.toggle.setAttribute("aria-label", this.#unread ? unread : gettext("Chat"));
  }
}
