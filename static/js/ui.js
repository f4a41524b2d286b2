// The call screen: a tile per participant, the participant list, the controls and a status banner.
// Names come from other users: they are only ever set with textContent.
// On a phone (call-layout.css) the toolbar is one row with a "More" menu, and the participant
// list and the chat are sheets above it: one of them at a time.
//
// Events: "mute" (wanted: boolean), "camera" (wanted on: boolean), "leave",
// "tile-added" {peerId, root, media} for each other participant's tile (quality bars, speaker choice).

import { gettext, interpolate } from "./i18n.js";
import { Emitter } from "./emitter.js";
import { DisclosureMenu } from "./menu.js";
import { SERVER_PEER_ID } from "./recording.js";
import { TileControls } from "./tilecontrols.js";

const STATE_LABELS = {
  new: gettext("connecting"),
  connecting: gettext("connecting"),
  connected: gettext("connected"),
  disconnected: gettext("reconnecting"),
  reconnecting: gettext("reconnecting…"), // their socket dropped; their connection is kept a while (mesh.js)
  failed: gettext("failed"),
  closed: gettext("left"),
};

export function initials(name) {
  // First letter or digit of the first and last words: "Bob B." -> "BB", "carol" -> "CA".
  const words = String(name || "").match(/[\p{L}\p{N}][^\s]*/gu) ?? [];
  if (words.length === 0) return "?";
  const first = words[0].match(/[\p{L}\p{N}]/gu);
  const last = words.length > 1 ? words[words.length - 1].match(/[\p{L}\p{N}]/u) : first.slice(1);
  return (first[0] + (last?.[0] ?? "")).toUpperCase();
}

// The path badge on a tile, explained on hover and focus: neither is a problem.
const PATH_LABELS = { direct: gettext("direct"), relayed: gettext("via server") };
const PATH_EXPLAINED = {
  direct: gettext("Direct: sound and video go straight between your browser and theirs."),
  relayed: gettext("Via the server: sound and video go through the server's relay."),
};

/** Our own name, marked: "Alice (you)", and "Gina (guest, you)" rather than "Gina (guest) (you)". */
function yours(name) {
  if (name.endsWith(")")) return interpolate(gettext("%(name)s, you)"), { name: name.slice(0, -1) });
  return interpolate(gettext("%(name)s (you)"), { name });
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** An icon (icons.css) before `text`: the text says it, the icon only shows it. */
function withIcon(node, icon) {
  node.dataset.icon = icon;
  return node;
}

class Tile {
  constructor({ peerId, name, audioOnly, local }) {
    this.peerId = peerId;
    this.local = local;
    this.videoFlowing = false; // a live, unmuted video track is attached
    this.cameraOn = true; // what the other side says (state channel); assumed until told otherwise
    this.root = element("figure", local ? "tile local" : "tile");
    this.root.dataset.peerId = peerId;
    this.avatar = element("div", "avatar");
    this.avatar.setAttribute("aria-hidden", "true");
    // Audio-only rooms get no <video> element at all, so not even a black frame is shown.
    this.media = element(audioOnly ? "audio" : "video", "media");
    this.media.autoplay = true;
    this.media.playsInline = true;
    // Never play our own microphone back. Another person's sound plays from an <audio> of its
    // own: a <video> whose camera track never had a frame (camera off when we joined) does not
    // start playing, and Chromium then plays none of that stream's audio either.
    this.media.muted = local || !audioOnly;
    this.sound = local || audioOnly ? this.media : element("audio", "sound");
    this.sound.autoplay = true;
    const caption = element("figcaption");
    this.label = element("span", "name");
    this.muteFlag = element("span", "badge muted-flag", gettext("muted"));
    this.muteFlag.hidden = true;
    this.cameraFlag = element("span", "badge camera-flag", gettext("camera off"));
    this.cameraFlag.hidden = true;
    this.handFlag = withIcon(element("span", "badge hand-flag", gettext("hand raised")), "hand");
    this.handFlag.hidden = true;
    this.badge = element("span", "badge state");
    this.pathFlag = element("span", "badge path");
    this.pathFlag.hidden = true;
    this.pathFlag.tabIndex = 0; // so that its explanation shows on focus too, not only under a mouse
    this.pathTip = element("span", "tip");
    this.pathTip.setAttribute("role", "tooltip");
    this.pathTip.id = `path-tip-${peerId}`;
    this.pathFlag.setAttribute("aria-describedby", this.pathTip.id);
    caption.append(this.label, this.muteFlag, this.cameraFlag, this.handFlag, this.badge, this.pathFlag, this.pathTip);
    this.root.append(this.avatar, this.media, caption);
    if (this.sound !== this.media) this.root.append(this.sound);
    this.controls = local ? null : new TileControls(this.root, this.sound, name);
    this.setName(name);
    this.setVideo(false);
  }

  setName(name) {
    this.label.textContent = this.local ? yours(name) : name;
    this.avatar.textContent = initials(name);
    this.controls?.setName(name);
  }

  setStream(stream) {
    for (const player of new Set([this.media, this.sound])) {
      if (player.srcObject !== stream) player.srcObject = stream;
      player.play?.().catch(() => {}); // autoplay can be refused before a click; the Join click counts
    }
  }

  setVideo(flowing) {
    this.videoFlowing = flowing;
    this.#render();
  }

  setCameraOn(on) {
    this.cameraOn = on;
    this.#render();
  }

  #render() {
    const showing = this.videoFlowing && this.cameraOn && this.media.tagName === "VIDEO";
    this.root.classList.toggle("has-video", showing);
    this.cameraFlag.hidden = this.cameraOn || this.local || this.media.tagName !== "VIDEO";
  }

  setHand(raised) {
    this.handFlag.hidden = !raised;
    this.root.classList.toggle("hand-raised", raised);
  }

  setSpeaking(speaking) {
    this.root.classList.toggle("speaking", speaking);
  }

  setMuted(muted) {
    this.muteFlag.hidden = !muted;
  }

  setState(state) {
    this.badge.textContent = STATE_LABELS[state] ?? state;
    this.badge.dataset.state = state;
    this.badge.hidden = state === "connected" || state === "local";
  }
}

export class CallScreen extends Emitter {
  #countdown = null;
  #tiles = new Map();
  #people = new Map();

  constructor({ root, audioOnlyRoom, displayName, lobbyUrl }) {
    super();
    this.root = root;
    this.audioOnlyRoom = audioOnlyRoom;
    this.displayName = displayName;
    this.lobbyUrl = lobbyUrl;
    this.grid = root.querySelector("#grid");
    this.peopleList = root.querySelector("#people-list");
    this.peopleCount = root.querySelector("#people-count");
    this.banner = root.querySelector("#call-banner");
    this.muteButton = root.querySelector("#mute-button");
    this.cameraButton = root.querySelector("#camera-button");
    this.leaveButton = root.querySelector("#leave-button");
    this.muteButton.addEventListener("click", () => this.emit("mute", this.muteButton.getAttribute("aria-pressed") !== "true"));
    this.cameraButton?.addEventListener("click", () =>
      this.emit("camera", this.cameraButton.getAttribute("aria-pressed") === "true"),
    );
    this.leaveButton.addEventListener("click", () => this.emit("leave"));
    this.#wirePhoneLayout(root);
  }

  // The "More" menu, and the participant list as a sheet: both only shown so on a phone.
  #wirePhoneLayout(root) {
    new DisclosureMenu(root.querySelector("#more-button"), root.querySelector("#more-controls"));
    const peopleButton = root.querySelector("#people-button");
    const chatButton = root.querySelector("#chat-button");
    const people = root.querySelector("#people-panel");
    const showPeople = (open) => {
      if (open && chatButton.getAttribute("aria-expanded") === "true") chatButton.click(); // one sheet at a time
      people.classList.toggle("open", open);
      peopleButton.setAttribute("aria-expanded", String(open));
    };
    peopleButton.addEventListener("click", () => showPeople(!people.classList.contains("open")));
    chatButton.addEventListener("click", () => showPeople(false));
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !people.classList.contains("open") || document.querySelector("dialog[open]")) return;
      if (people.querySelector(".person-menu.open")) return; // that menu closes first (menu.js)
      const hadFocus = people.contains(document.activeElement);
      showPeople(false);
      if (hadFocus) peopleButton.focus();
    });
  }

  show(devicesPanel) {
    this.root.hidden = false;
    if (devicesPanel) this.root.querySelector("#devices-slot")?.append(devicesPanel);
    if (this.audioOnlyRoom && this.cameraButton) this.cameraButton.hidden = true;
    this.#addTile({ peerId: "local", name: this.displayName, local: true }).setState("local");
  }

  setLocalStream(stream, state) {
    const tile = this.#tiles.get("local");
    if (!tile) return;
    tile.setStream(stream);
    this.setLocalState(state);
  }

  setLocalState({ muted, cameraOn }) {
    this.#tiles.get("local")?.setMuted(muted);
    this.#tiles.get("local")?.setVideo(cameraOn);
    this.#person("local")?.setMuted(muted);
    this.muteButton.setAttribute("aria-pressed", String(muted));
    this.muteButton.textContent = muted ? gettext("Unmute") : gettext("Mute");
    if (this.cameraButton) {
      // Pressed means "camera off", the way a mute button's pressed means "muted".
      this.cameraButton.setAttribute("aria-pressed", String(!cameraOn));
      this.cameraButton.textContent = cameraOn ? gettext("Camera off") : gettext("Camera on");
    }
  }

  addPeer(peerId, name) {
    if (this.#tiles.has(peerId) || peerId === SERVER_PEER_ID) return; // the recorder is no participant
    const tile = this.#addTile({ peerId, name: name || gettext("Someone"), local: false });
    this.emit("tile-added", { peerId, root: tile.root, media: tile.sound });
  }

  renamePeer(peerId, name) {
    this.#tiles.get(peerId)?.setName(name);
    this.#person(peerId)?.setName(name);
  }

  removePeer(peerId) {
    const tile = this.#tiles.get(peerId);
    if (tile) {
      tile.media.srcObject = null;
      tile.sound.srcObject = null;
      tile.root.remove();
      this.#tiles.delete(peerId);
    }
    this.#people.get(peerId)?.root.remove();
    this.#people.delete(peerId);
    this.#layout();
  }

  /** A remote track arrived: play it, and show the video only while frames flow. */
  addTrack(peerId, track, stream) {
    const tile = this.#tiles.get(peerId);
    if (!tile) return;
    tile.setStream(stream);
    if (track.kind !== "video") return;
    const update = () => tile.setVideo(track.readyState === "live" && !track.muted);
    track.addEventListener("mute", update);
    track.addEventListener("unmute", update);
    track.addEventListener("ended", update);
    update();
  }

  setPeerState(peerId, state) {
    this.#tiles.get(peerId)?.setState(state);
    this.#person(peerId)?.setState(state);
  }

  /** How this peer's media reaches us: "direct" (mesh) or "relayed" (through the media worker). */
  setPeerPath(peerId, path) {
    const tile = this.#tiles.get(peerId);
    if (!tile) return;
    tile.pathFlag.textContent = PATH_LABELS[path] ?? path;
    tile.pathFlag.dataset.path = path;
    tile.pathTip.textContent = PATH_EXPLAINED[path] ?? "";
    tile.pathFlag.hidden = false;
  }

  setPeerMedia(peerId, { muted, cameraOn }) {
    this.#tiles.get(peerId)?.setMuted(muted);
    this.#tiles.get(peerId)?.setCameraOn(cameraOn);
    this.#person(peerId)?.setMuted(muted);
  }

  /** A raised hand (`peerId` "local" for our own), on the tile and in the participant list. */
  setPeerHand(peerId, raised) {
    this.#tiles.get(peerId)?.setHand(raised);
    this.#person(peerId)?.setHand(raised);
  }

  /** The active-speaker highlight (static/js/speaker.js). */
  setSpeaking(peerId, speaking) {
    this.#tiles.get(peerId)?.setSpeaking(speaking);
  }

  /** A state (`kind` "info") or a problem ("error"); `link` adds a way out, `action` a button
   * ({text, onClick}), `until` a live countdown to that time (ms since the epoch). */
  showBanner(text, { kind = "info", link = null, action = null, until = 0 } = {}) {
    clearInterval(this.#countdown);
    this.banner.replaceChildren(element("span", "", text));
    if (until) this.#countDown(until);
    if (link) {
      const anchor = element("a", "button secondary", link.text);
      anchor.href = link.href;
      this.banner.append(" ", anchor);
    }
    if (action) {
      const button = element("button", "secondary small", action.text);
      button.type = "button";
      button.addEventListener("click", action.onClick);
      this.banner.append(" ", button);
    }
    this.banner.dataset.kind = kind;
    this.banner.hidden = false;
  }

  hideBanner() {
    clearInterval(this.#countdown);
    this.banner.hidden = true;
    this.banner.replaceChildren();
  }

  // Seconds left, once a second; hidden from screen readers, which would read every tick.
  #countDown(until) {
    const left = element("span", "countdown");
    left.setAttribute("aria-hidden", "true");
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      left.textContent = ` ${interpolate(gettext("in %(seconds)s s…"), { seconds })}`;
    };
    tick();
    this.#countdown = setInterval(tick, 250);
    this.banner.append(left);
  }

  /** The call is over for good (refused, closed, left inside a frame): say why and offer the way
   * back to the lobby (not inside another site's frame, which the lobby refuses: no `lobbyUrl`). */
  end(message, { kind = "error" } = {}) {
    const link = this.lobbyUrl ? { href: this.lobbyUrl, text: gettext("Back to the lobby") } : null;
    this.showBanner(message, { kind, link });
    for (const peerId of [...this.#tiles.keys()]) this.removePeer(peerId);
    this.root.classList.add("ended"); // call.css hides the grid and the controls
  }

  #addTile({ peerId, name, local }) {
    const tile = new Tile({ peerId, name, local, audioOnly: this.audioOnlyRoom });
    this.#tiles.set(peerId, tile);
    if (local) this.grid.prepend(tile.root);
    else this.grid.append(tile.root);
    const person = new Person(peerId, local ? yours(name) : name);
    this.#people.set(peerId, person);
    if (local) this.peopleList.prepend(person.root);
    else this.peopleList.append(person.root);
    this.#layout();
    return tile;
  }

  #person(peerId) {
    return this.#people.get(peerId);
  }

  #layout() {
    const count = this.#tiles.size;
    this.peopleCount.textContent = String(this.#people.size);
    this.grid.dataset.count = String(count);
    // Wide screens: near-square arrangements, sized by call.css so every row fits the window.
    const columns = count <= 1 ? 1 : count <= 4 ? 2 : count <= 9 ? 3 : 4;
    this.grid.style.setProperty("--columns", String(columns));
    this.grid.style.setProperty("--rows", String(Math.ceil(count / columns)));
  }
}

class Person {
  constructor(peerId, name) {
    this.root = element("li");
    this.root.dataset.peerId = peerId;
    this.name = element("span", "name");
    this.handFlag = withIcon(element("span", "hand-flag"), "hand");
    this.flags = element("span", "muted flags");
    this.root.append(this.name, " ", this.handFlag, this.flags);
    this.muted = false;
    this.hand = false;
    this.state = peerId === "local" ? "connected" : "new";
    this.setName(name);
  }

  setName(name) {
    this.name.textContent = name;
  }

  setMuted(muted) {
    this.muted = muted;
    this.#render();
  }

  setState(state) {
    this.state = state;
    this.#render();
  }

  setHand(raised) {
    this.hand = raised;
    this.#render();
  }

  #render() {
    this.handFlag.hidden = !this.hand;
    this.handFlag.textContent = this.hand ? gettext("hand raised") : ""; // not even in the text while down
    const flags = [];
    if (this.muted) flags.push(gettext("muted"));
    if (this.state !== "connected" && this.state !== "local") flags.push(STATE_LABELS[this.state] ?? this.state);
    this.flags.textContent = flags.join(" · ");
  }
}
