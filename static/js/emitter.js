// A minimal event emitter shared by the call modules: on(type, fn) returns an unsubscribe function.

export class Emitter {
  #handlers = new Map();

  on(type, handler) {
    if (!this.#handlers.has(type)) this.#handlers.set(type, new Set());
    this.#handlers.get(type).add(handler);
    return () => this.#handlers.get(type)?.delete(handler);
  }

  emit(type, detail) {
    for (const handler of [...(this.#handlers.get(type) ?? [])]) {
      try {
        handler(detail);
      } catch (error) {
        // One broken listener must not stop the others (or the socket loop that emitted).
        console.error(`[emitter] ${type} handler failed`, error);
      }
    }
  }
}
