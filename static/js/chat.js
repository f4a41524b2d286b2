// The room's text chat: a side panel with history, a form, and an unread badge.
// Every name and text goes in with textContent: nothing anyone types becomes HTML.

const MAX_LENGTH = 1000;

export class ChatPanel {
  #send;
  #unread = 0;
  #seen = new Set();

  constructor({ root, toggle, send }) {
    this.root = root;
    this.toggle = toggle;
    this.#send = send;
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

  /** One line: {name, text, at}; counts as unread while the panel is closed. */
  add({ name, text, at }, { quiet = false } = {}) {
    const key = `${at}|${name}|${text}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    const item = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = name;
    const when = document.createElement("time");
    when.dateTime = at;
    when.textContent = new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const body = document.createElement("p");
    body.textContent = text;
    item.append(who, " ", when, body);
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
    this.#send({ type: "chat", text });
    this.input.value = "";
    this.status.textContent = "";
  }

  #renderBadge() {
    this.badge.hidden = this.#unread === 0;
    this.badge.textContent = String(this.#unread);
    this.toggle.setAttribute("aria-label", this.#unread ? `Chat, ${this.#unread} unread` : "Chat");
  }
}
