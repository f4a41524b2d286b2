// Moderation on the call page: per-person actions in the participant list (one menu per person,
// "More actions for Gina"), lock and end in the toolbar, and the live list of people waiting to
// join (knock to enter), with Admit and Deny.
// Every action is only a request: the server checks who may do it (docs/protocol.md,
// "Moderation"). Names come from other people: they are only ever set with textContent.
// Remove, Remove and bar, and End for all first ask, naming the person (confirm.js); barring a
// guest offers to withdraw the invite link they came in with (`withdraw_invite`).

import { gettext, interpolate } from "./i18n.js";
import { askToConfirm } from "./confirm.js";
import { DisclosureMenu } from "./menu.js";

// [action, button text, its accessible name naming the person]
const PERSON_ACTIONS = [
  ["ask_mute", gettext("Ask to mute"), gettext("Ask %(name)s to mute")],
  ["mute", gettext("Mute"), gettext("Mute %(name)s")],
  ["remove", gettext("Remove"), gettext("Remove %(name)s")],
  ["remove_and_bar", gettext("Remove and bar"), gettext("Remove and bar %(name)s")],
];

function button(text, label, className = "secondary small") {
  const node = document.createElement("button");
  node.type = "button";
  node.className = className;
  node.textContent = text;
  node.setAttribute("aria-label", label);
  return node;
}

export class ModerationControls {
  #send;
  #waiting = new Map();
  #guests = new Set(); // peer ids of people who came in by an invite link

  constructor({ root, canModerate, locked, send, dialog }) {
    this.root = root;
    this.canModerate = canModerate;
    this.#send = send;
    this.dialog = dialog;
    this.peopleList = root.querySelector("#people-list");
    this.lockButton = root.querySelector("#lock-button");
    this.endButton = root.querySelector("#end-button");
    this.panel = root.querySelector("#waiting-panel");
    this.list = root.querySelector("#waiting-list");
    this.count = root.querySelector("#waiting-count");
    if (!canModerate) return;
    this.lockButton.hidden = false;
    this.endButton.hidden = false;
    this.setLocked(locked);
    this.lockButton.addEventListener("click", () => {
      this.#send({ type: "moderate", action: this.locked ? "unlock" : "lock" });
    });
    this.endButton.addEventListener("click", async () => {
      const answer = await askToConfirm(this.dialog, {
        title: gettext("End the meeting for everyone?"),
        text: gettext("Everyone in the call is disconnected."),
        action: gettext("End for all"),
      });
      if (answer) this.#send({ type: "moderate", action: "end" });
    });
  }

  /** A participant appeared in the list (ui.js made their <li>): give moderators their menu. */
  addPeer(peerId, name) {
    if (!this.canModerate) return;
    const item = this.peopleList.querySelector(`li[data-peer-id="${CSS.escape(peerId)}"]`);
    if (!item || item.querySelector(".moderation-actions")) return;
    const toggle = button("", interpolate(gettext("More actions for %(name)s"), { name }), "secondary small person-menu-button");
    toggle.dataset.icon = "ellipsis-vertical";
    const actions = document.createElement("div");
    actions.className = "moderation-actions person-menu";
    actions.id = `person-menu-${peerId}`;
    toggle.setAttribute("aria-controls", actions.id);
    for (const [action, text, label] of PERSON_ACTIONS) {
      const removal = action.startsWith("remove");
      const control = button(text, interpolate(label, { name }), removal ? "danger small" : "secondary small");
      control.dataset.action = action;
      if (removal) control.setAttribute("aria-haspopup", "dialog"); // asks first (confirm.js)
      control.addEventListener("click", () => this.#act(action, peerId, name));
      actions.append(control);
    }
    item.append(toggle, actions);
    new DisclosureMenu(toggle, actions);
  }

  /** `welcome.peers`, `peer-joined`: remember who is a guest (`guest: true`). */
  noteGuests(peers) {
    for (const peer of peers ?? []) if (peer.guest) this.#guests.add(peer.peer_id);
  }

  async #act(action, peerId, name) {
    const message = { type: "moderate", action, peer_id: peerId };
    if (action.startsWith("remove")) {
      const answer = await this.#confirmRemoval(action, peerId, name);
      if (!answer) return;
      if (action === "remove_and_bar" && this.#guests.has(peerId)) message.withdraw_invite = answer.option;
    }
    this.#send(message);
  }

  #confirmRemoval(action, peerId, name) {
    if (action === "remove") {
      return askToConfirm(this.dialog, {
        title: interpolate(gettext("Remove %(name)s?"), { name }),
        text: interpolate(gettext("%(name)s leaves the call now. They can join again."), { name }),
        action: gettext("Remove"),
      });
    }
    const guest = this.#guests.has(peerId);
    return askToConfirm(this.dialog, {
      title: interpolate(gettext("Remove and bar %(name)s?"), { name }),
      text: interpolate(gettext("%(name)s leaves the call now and may not come back to this room."), { name }),
      action: gettext("Remove and bar"),
      option: guest
        ? interpolate(gettext("Also withdraw the invite link %(name)s came in with: nobody can join with it any more."), { name })
        : "",
    });
  }

  setLocked(locked) {
    this.locked = Boolean(locked);
    if (!this.lockButton) return;
    this.lockButton.textContent = this.locked ? gettext("Unlock room") : gettext("Lock room");
    this.lockButton.setAttribute("aria-pressed", String(this.locked));
  }

  /** `knocking`: someone waits to be let in. */
  addWaiting({ peer_id: peerId, name }) {
    if (!this.canModerate || this.#waiting.has(peerId)) return;
    const item = document.createElement("li");
    item.dataset.peerId = peerId;
    const who = document.createElement("span");
    who.className = "name";
    who.textContent = name;
    const admit = button(gettext("Admit"), interpolate(gettext("Admit %(name)s"), { name }), "small");
    const deny = button(gettext("Deny"), interpolate(gettext("Deny %(name)s"), { name }), "danger small");
    admit.addEventListener("click", () => this.#send({ type: "moderate", action: "admit", peer_id: peerId }));
    deny.addEventListener("click", () => this.#send({ type: "moderate", action: "deny", peer_id: peerId }));
    item.append(who, " ", admit, " ", deny);
    this.list.append(item);
    this.#waiting.set(peerId, item);
    this.#render();
  }

  /** `knock-withdrawn`: let in, turned away, or gone. */
  removeWaiting(peerId) {
    this.#waiting.get(peerId)?.remove();
    this.#waiting.delete(peerId);
    this.#render();
  }

  /** After a reconnect the server sends the waiting list again. */
  clearWaiting() {
    for (const peerId of [...this.#waiting.keys()]) this.removeWaiting(peerId);
  }

  #render() {
    this.panel.hidden = this.#waiting.size === 0;
    this.count.textContent = String(this.#waiting.size);
  }
}
