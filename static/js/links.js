// The room's media links: a PeerMesh (mesh.js, one connection per person) or a RelayLink
// (relay.js, one connection to the media worker), swapped without a reload when an `auto`
// room crosses its threshold (`media-mode`, docs/protocol.md).
//
// Same interface and events as PeerMesh, so call.js does not care which one is in use.

import { Emitter } from "./emitter.js";
import { PeerMesh } from "./mesh.js";
import { RelayLink } from "./relay.js";

const EVENTS = ["peer-added", "peer-name", "peer-removed", "peer-state", "peer-media", "track", "extra-track"];

export class MediaLinks extends Emitter {
  #options;
  #current = null;
  #mode = null;
  #welcome = null;
  #peers = new Map(); // peer_id -> {peer_id, name}: who is in the room, whatever the links
  #localState = { muted: false, cameraOn: false };
  #extra = { track: null, stream: null }; // a shared screen, sent besides the camera (mesh only for now)
  #relayOfferDue = false; // a `relay-tracks` came: the next offer from "server" is the relay's

  constructor(options) {
    super();
    this.#options = options;
  }

  /** "direct" or "relayed": how the others' media reaches us now. */
  get path() {
    return this.#current?.path ?? "direct";
  }

  connections() {
    return this.#current?.connections() ?? new Map();
  }

  start(welcome) {
    this.#welcome = welcome;
    this.#peers = new Map((welcome.peers ?? []).map((peer) => [peer.peer_id, peer]));
    this.#switch(welcome.room?.active_mode ?? welcome.room?.mode ?? "mesh", { joining: true });
  }

  /** `media-mode` from the server: the room moved to the relay or back to a mesh. */
  setMode(mode) {
    if (this.#welcome && mode !== this.#mode) this.#switch(mode, { joining: false });
  }

  addPeer(peer) {
    this.#peers.set(peer.peer_id, peer);
    this.#current?.addPeer(peer);
  }

  removePeer(peerId) {
    this.#peers.delete(peerId);
    this.#current?.removePeer(peerId);
  }

  closeAll() {
    this.#current?.closeAll();
  }

  handleSignal(message) {
    if (message.from === "server" && message.type === "offer") {
      // After a move back to a mesh the worker may still renegotiate its relay links for a
      // moment; each such offer follows its `relay-tracks`. Other offers from "server" in a mesh
      // are the recorder's (a recorded mesh, or `auto` room below its threshold).
      const relays = this.#relayOfferDue;
      this.#relayOfferDue = false;
      if (this.#mode === "mesh" && relays) return;
    }
    this.#current?.handleSignal(message);
  }

  /** `relay-tracks`, before each of the worker's offers. */
  setTracks(message) {
    this.#relayOfferDue = true;
    if (this.#mode === "relay") this.#current.setTracks(message);
  }

  replaceTrack(kind, track) {
    this.#current?.replaceTrack(kind, track);
  }

  /** False in relay mode: the media worker does not forward a shared screen yet. */
  get canShareScreen() {
    return typeof this.#current?.setExtraTrack === "function";
  }

  /** A shared screen to everyone (renegotiates); null stops it. The relay does not forward it yet. */
  setExtraTrack(track, stream) {
    this.#extra = { track, stream };
    this.#current?.setExtraTrack?.(track, stream);
  }

  setLocalState(state) {
    this.#localState = state;
    this.#current?.setLocalState(state);
  }

  #switch(mode, { joining }) {
    this.#current?.closeAll();
    this.#mode = mode;
    const links = mode === "relay" ? new RelayLink(this.#options) : new PeerMesh(this.#options);
    for (const name of EVENTS) links.on(name, (detail) => links === this.#current && this.emit(name, detail));
    this.#current = links;
    links.setLocalState(this.#localState);
    if (this.#extra.track && !this.canShareScreen) this.emit("share-unavailable", {});
    else if (this.#extra.track) links.setExtraTrack(this.#extra.track, this.#extra.stream);
    const peers = [...this.#peers.values()];
    if (joining || mode === "relay") {
      links.start({ ...this.#welcome, peers });
      return;
    }
    // Everyone switches back to a mesh at once: one side of each pair offers, so offers never cross.
    const localId = this.#welcome.peer_id;
    links.start({ ...this.#welcome, peers: peers.filter((peer) => localId < peer.peer_id) });
    for (const peer of peers) if (localId > peer.peer_id) links.addPeer(peer);
  }
}
