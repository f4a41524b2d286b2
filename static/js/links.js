// The room's media links: a PeerMesh (mesh.js, one connection per person) or a RelayLink
// (relay.js, one connection to the media worker), swapped without a reload when an `auto`
// room crosses its threshold (`media-mode`, docs/protocol.md).
//
// In a mesh, a pair whose direct connection fails even after an ICE restart ("direct-failed")
// is handed to the relay (`relay-fallback`): a second RelayLink carries just those partners'
// media, under the same tiles, marked "relayed" ("peer-path").
//
// Same interface and events as PeerMesh, so call.js does not care which one is in use. Tiles
// belong to people, not links: "peer-added" and "peer-removed" come once per person, so a swap
// keeps each tile (its name, flags and controls) and only the media under it changes.
//
// After a dropped socket, a `welcome` with `resumed` keeps a mesh as it is (PeerMesh.start
// restarts ICE on each kept connection); a relay link is rebuilt, as the worker closes its side
// when we leave (aiortc cannot restart ICE), and so is a pair's fallback link.

import { Emitter } from "./emitter.js";
import { PeerMesh } from "./mesh.js";
import { SERVER_PEER_ID } from "./recording.js";
import { RelayLink } from "./relay.js";

const EVENTS = ["peer-added", "peer-name", "peer-removed", "peer-state", "peer-media", "track", "extra-track", "direct-failed"];
// What a fallback RelayLink says about its partners; their tiles are the mesh's.
const FALLBACK_EVENTS = new Set(["peer-state", "track"]);
// Peers' signals kept while the relay is being left: an offer and its candidates per person.
const MAX_EARLY_SIGNALS = 200;

export class MediaLinks extends Emitter {
  #options;
  #current = null;
  #fallback = null; // a RelayLink for the mesh pairs the relay carries
  #relayed = new Set(); // their peer ids
  #asked = new Set(); // peer ids we asked the relay for (once each)
  #tiles = new Set(); // peer ids announced with "peer-added"
  #mode = null;
  #welcome = null;
  #peers = new Map(); // peer_id -> {peer_id, name}: who is in the room, whatever the links
  #localState = { muted: false, cameraOn: false };
  #extra = { track: null, stream: null }; // a shared screen, sent besides the camera (mesh only for now)
  #relayOfferDue = false; // a `relay-tracks` came: the next offer from "server" is the relay's
  #early = []; // peers' signals that came while we were still in the relay (see handleSignal)

  constructor(options) {
    super();
    this.#options = options;
  }

  /** "direct" or "relayed": how the others' media reaches us now (most of them, in a mesh). */
  get path() {
    return this.#current?.path ?? "direct";
  }

  /** "direct" or "relayed": how `peerId`'s media reaches us now. */
  pathOf(peerId) {
    return this.#relayed.has(peerId) ? "relayed" : this.path;
  }

  connections() {
    return new Map([...(this.#current?.connections() ?? []), ...(this.#fallback?.connections() ?? [])]);
  }

  /** On the connection to "server" (the relay), whose media the transceiver `mid` carries. */
  ownerOf(mid) {
    return this.#current?.ownerOf?.(mid) ?? this.#fallback?.ownerOf(mid) ?? null;
  }

  start(welcome) {
    const mode = welcome.room?.active_mode ?? welcome.room?.mode ?? "mesh";
    const resumed = welcome.resumed === true && welcome.peer_id === this.#welcome?.peer_id;
    this.#welcome = welcome;
    this.#peers = new Map((welcome.peers ?? []).map((peer) => [peer.peer_id, peer]));
    if (resumed && mode === this.#mode && this.#current instanceof PeerMesh) {
      this.#closeFallback(); // the worker dropped our old link when the old socket left
      this.#asked.clear();
      this.#current.start(welcome);
    } else this.#switch(mode, { joining: true });
  }

  /** `media-mode` from the server: the room moved to the relay or back to a mesh. */
  setMode(mode) {
    if (this.#welcome && mode !== this.#mode) this.#switch(mode, { joining: false });
  }

  addPeer(peer) {
    this.#peers.set(peer.peer_id, peer);
    this.#current?.addPeer(peer);
  }

  /** `resumable`: their socket dropped; a mesh keeps their connection for a grace period. */
  removePeer(peerId, { resumable = false } = {}) {
    this.#peers.delete(peerId);
    this.#asked.delete(peerId);
    if (resumable && this.#current instanceof PeerMesh) this.#current.holdPeer(peerId);
    else this.#current?.removePeer(peerId);
    if (!this.#relayed.delete(peerId)) return;
    this.#fallback?.removePeer(peerId);
    if (this.#relayed.size === 0) this.#closeFallback(); // the worker closes its side too
  }

  closeAll() {
    this.#peers.clear();
    this.#closeFallback();
    this.#current?.closeAll();
  }

  handleSignal(message) {
    if (message.from === SERVER_PEER_ID && message.type === "offer") {
      // After a move back to a mesh the worker may still renegotiate its relay links for a
      // moment; each such offer follows its `relay-tracks`. Other offers from "server" in a mesh
      // are the recorder's (a recorded mesh, or `auto` room below its threshold).
      const relays = this.#relayOfferDue;
      this.#relayOfferDue = false;
      if (this.#mode === "mesh" && relays && !this.#fallback) return;
    }
    // In a mesh with relayed pairs, "server" is the fallback relay (a mesh with relayed pairs is
    // not recorded, so there is no recorder to confuse it with).
    if (message.from === SERVER_PEER_ID && this.#mode === "mesh" && this.#fallback) {
      this.#fallback.handleSignal(message);
      return;
    }
    if (message.from !== SERVER_PEER_ID && this.#mode === "relay") {
      // Someone already back in a mesh: their signals come to our socket straight from their
      // process, and may overtake the `media-mode` still queued for us. Kept for the mesh.
      if (this.#early.length < MAX_EARLY_SIGNALS) this.#early.push(message);
      return;
    }
    this.#current?.handleSignal(message);
  }

  /** `relay-publish` (Janus carries the room): offer our media on a connection of its own. */
  publishToRelay() {
    if (this.#mode === "relay") this.#current.publish();
  }

  /** `relay-tracks`, before each of the worker's offers. */
  setTracks(message) {
    this.#relayOfferDue = true;
    if (this.#mode === "relay") this.#current.setTracks(message);
    else this.#fallback?.setTracks(message);
  }

  /** `relay-fallback` from the worker: our media with `peerId` now goes through it. */
  relayWith(peerId) {
    const peer = this.#peers.get(peerId);
    if (this.#mode !== "mesh" || !peer || this.#relayed.has(peerId)) return;
    if (!this.#fallback) {
      this.#fallback = this.#wire(new RelayLink(this.#options));
      this.#fallback.start({ ...this.#welcome, peers: [] });
    }
    this.#relayed.add(peerId);
    this.#current.relayPeer(peerId);
    this.#fallback.addPeer(peer);
    this.emit("peer-path", { peerId, path: "relayed" });
  }

  replaceTrack(kind, track) {
    this.#current?.replaceTrack(kind, track);
    this.#fallback?.replaceTrack(kind, track);
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
    const old = this.#current;
    this.#current = null; // what the old links say while closing is not news for the page
    old?.closeAll();
    this.#mode = mode;
    // Into the relay with some pairs already relayed: the worker relays everyone on the link it
    // already has with us, so that connection is kept.
    const kept = mode === "relay" ? this.#fallback : null;
    if (kept) this.#fallback = null;
    else this.#closeFallback();
    const links = kept ?? this.#wire(mode === "relay" ? new RelayLink(this.#options) : new PeerMesh(this.#options));
    this.#relayed.clear();
    this.#asked.clear();
    this.#current = links;
    links.setLocalState(this.#localState);
    if (this.#extra.track && !this.canShareScreen) this.emit("share-unavailable", {});
    else if (this.#extra.track) links.setExtraTrack(this.#extra.track, this.#extra.stream);
    this.#startLinks(links, { kept: Boolean(kept), joining });
    const early = this.#early;
    this.#early = [];
    if (mode === "mesh") for (const message of early) links.handleSignal(message);
    for (const peerId of this.#tiles) this.emit("peer-path", { peerId, path: this.pathOf(peerId) });
  }

  #startLinks(links, { kept, joining }) {
    const peers = [...this.#peers.values()];
    if (kept) {
      for (const peer of peers) links.addPeer(peer); // everyone is on it now
    } else if (joining || this.#mode === "relay") {
      links.start({ ...this.#welcome, peers });
    } else {
      // Everyone switches back to a mesh at once: one side of each pair offers, so offers never cross.
      const localId = this.#welcome.peer_id;
      links.start({ ...this.#welcome, peers: peers.filter((peer) => localId < peer.peer_id) });
      for (const peer of peers) if (localId > peer.peer_id) links.addPeer(peer);
    }
  }

  #closeFallback() {
    const fallback = this.#fallback;
    this.#fallback = null;
    this.#relayed.clear();
    fallback?.closeAll();
  }

  #wire(links) {
    for (const name of EVENTS) links.on(name, (detail) => this.#pass(links, name, detail));
    return links;
  }

  #pass(links, name, detail) {
    const { peerId } = detail;
    if (links === this.#fallback) {
      if (FALLBACK_EVENTS.has(name) && this.#relayed.has(peerId)) this.emit(name, detail);
      return;
    }
    if (links !== this.#current) return;
    if (this.#relayed.has(peerId) && (name === "track" || name === "peer-state")) return; // the failed direct one
    if (name === "peer-added") return this.#announce(detail);
    if (name === "peer-removed") return this.#forget(peerId);
    if (name === "direct-failed") return this.#askRelay(peerId);
    this.emit(name, detail);
  }

  #announce({ peerId, name }) {
    if (!this.#tiles.has(peerId)) {
      this.#tiles.add(peerId);
      this.emit("peer-added", { peerId, name });
    } else if (name) {
      this.emit("peer-name", { peerId, name });
    }
  }

  #forget(peerId) {
    if (this.#peers.has(peerId) || !this.#tiles.delete(peerId)) return; // still here: only its link went
    this.emit("peer-removed", { peerId });
  }

  #askRelay(peerId) {
    if (this.#asked.has(peerId) || !this.#peers.has(peerId)) return;
    this.#asked.add(peerId);
    this.#options.send({ type: "relay-fallback", peer_id: peerId });
  }
}
