// The signaling WebSocket (docs/protocol.md): JSON frames in and out, a keepalive ping,
// and reconnection with jittered exponential backoff when the server goes away.
//
// Events: "open", one event per message `type` ("welcome", "peer-joined", "offer", ...),
// "reconnecting" {attempt, delay, code, at}, "refused" {code, reason, message}, "closed" {code}.
//
// Backoff: 0.15-0.3 s first (a server restart, 1001/1012, is usually over by then), doubling to
// 1-2 s, so a call is back within about 2 s of the server listening again; `retryNow()`
// (the "Try now" button) and the browser coming back online skip the wait.
//
// Resuming: the server's latest resume token (from `welcome`, refreshed in `pong`) goes on the
// URL of every reconnection (`?resume=`), so we come back under the same peer id.

import { gettext, interpolate } from "./i18n.js";
import { Emitter } from "./emitter.js";

// Server restarts and outages: come back. Everything else (44xx refusals above all) is final.
const RETRY_CODES = new Set([1001, 1006, 1011, 1012, 1013, 1014]);
const REFUSALS = {
  4401: gettext("Log in to join this room."),
  4403: gettext("This room needs its password: enter it on the room page."),
  4408: gettext("This call went on in a newer connection (another tab?)."),
  4404: gettext("This room does not exist."),
  4409: gettext("This room is full; try again later."),
  4410: gettext("This room was closed."),
  4423: gettext("This room is locked; ask its owner to unlock it."),
  4429: gettext("Disconnected for sending too many messages."),
};

export function socketUrl(path, location = window.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export function backoffDelay(attempt, { baseMs = 300, maxMs = 2000 } = {}) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  // "Equal jitter": never hammer at once after an outage, never wait for nothing.
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export class SignalingClient extends Emitter {
  #url;
  #socket = null;
  #attempt = 0;
  #lastError = null;
  #pingTimer = null;
  #retryTimer = null;
  #lastPong = 0;
  #stopped = false;
  #resumeToken = "";

  constructor(path, { pingIntervalMs = 20000 } = {}) {
    super();
    this.#url = socketUrl(path);
    this.pingIntervalMs = pingIntervalMs;
    window.addEventListener("online", () => this.retryNow());
  }

  get connected() {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  connect() {
    this.#stopped = false;
    clearTimeout(this.#retryTimer);
    const url = this.#resumeToken ? `${this.#url}?resume=${encodeURIComponent(this.#resumeToken)}` : this.#url;
    const socket = new WebSocket(url);
    this.#socket = socket;
    this.#lastError = null;
    socket.addEventListener("open", () => this.#opened());
    socket.addEventListener("message", (event) => socket === this.#socket && this.#received(event.data));
    socket.addEventListener("close", (event) => this.#closed(socket, event.code));
  }

  /** Send one message; returns false (and drops it) while disconnected. */
  send(message) {
    if (!this.connected) return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }

  /** While waiting to reconnect: try at once. */
  retryNow() {
    if (this.#stopped || this.#socket !== null) return;
    clearTimeout(this.#retryTimer);
    this.connect();
  }

  /** Leave for good: no reconnection. */
  close() {
    this.#stopped = true;
    this.#resumeToken = "";
    clearTimeout(this.#retryTimer);
    this.#stopPing();
    this.#socket?.close(1000, "leaving");
  }

  #opened() {
    this.#attempt = 0;
    this.#lastPong = Date.now();
    this.#startPing();
    this.emit("open");
  }

  #received(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn("[signaling] ignoring a frame that is not JSON");
      return;
    }
    if (!message || typeof message.type !== "string") return;
    if (message.type === "pong") this.#lastPong = Date.now();
    if (typeof message.resume === "string" && message.resume) this.#resumeToken = message.resume;
    if (message.type === "error") this.#lastError = message;
    this.emit(message.type, message);
  }

  #closed(socket, code) {
    if (socket !== this.#socket) return; // a socket we already gave up on
    this.#stopPing();
    this.#socket = null;
    if (this.#stopped) {
      this.emit("closed", { code });
    } else if (code >= 4000 && code < 5000) {
      this.#stopped = true;
      const message = this.#lastError?.message || REFUSALS[code] || interpolate(gettext("The server refused the connection (%(code)s)."), { code });
      this.emit("refused", { code, reason: this.#lastError?.code || "", message });
    } else if (RETRY_CODES.has(code)) {
      this.#scheduleRetry(code);
    } else {
      this.#stopped = true;
      this.emit("closed", { code });
    }
  }

  #scheduleRetry(code) {
    const delay = backoffDelay(this.#attempt);
    this.#attempt += 1;
    this.emit("reconnecting", { attempt: this.#attempt, delay, code, at: Date.now() + delay });
    this.#retryTimer = setTimeout(() => this.connect(), delay);
  }

  #startPing() {
    this.#stopPing();
    this.#pingTimer = setInterval(() => {
      // A half-open TCP connection never closes by itself: two missed pongs and we start over.
      if (Date.now() - this.#lastPong > 2.5 * this.pingIntervalMs) {
        this.#abandon();
        return;
      }
      this.send({ type: "ping" });
    }, this.pingIntervalMs);
  }

  #stopPing() {
    clearInterval(this.#pingTimer);
    this.#pingTimer = null;
  }

  #abandon() {
    const socket = this.#socket;
    this.#socket = null;
    this.#stopPing();
    socket?.close();
    this.#scheduleRetry(1006);
  }
}
