// Relay rooms: one RTCPeerConnection, to the media worker (peer id "server"), instead of one
// per person. We send our media once; the worker forwards everyone else's (docs/protocol.md,
// "Relay rooms"). The worker always offers; before each offer it says, in `relay-tracks`,
// which transceivers (by mid) carry our upload and whose media each other one carries, so
// each track lands in the right person's tile.
//
// When Janus carries the room (docs/protocol.md, "Relay rooms carried by Janus") that one
// connection only receives, and `relay-publish` asks for a second one, send-only, that carries
// our media: we offer it, and its signals carry `link: "publish"`.
//
// Same interface and events as PeerMesh (mesh.js), so call.js can use either:
// "peer-added", "peer-name", "peer-removed", "peer-state", "track"; `path` is "relayed".

import { Emitter } from "./emitter.js";
import { SERVER_PEER_ID } from "./recording.js";

const PUBLISH_LINK = "publish";

export class RelayLink extends Emitter {
  #pc = null;
  #publisher = null; // Janus: our upload's own connection
  #send;
  #media;
  #iceServers = [];
  #people = new Map(); // peer_id -> {name, stream}
  #upload = [];
  #owners = {}; // mid -> peer_id
  #queue = Promise.resolve();

  constructor({ send, media, audioOnlyRoom }) {
    super();
    this.#send = send;
    this.#media = media;
    this.audioOnlyRoom = audioOnlyRoom;
    this.localId = null;
    this.path = "relayed";
  }

  /** Debugging view, as PeerMesh's: the connection to "server" (and Janus's upload one). */
  connections() {
    const connections = new Map(this.#pc ? [[SERVER_PEER_ID, this.#pc]] : []);
    if (this.#publisher) connections.set(`${SERVER_PEER_ID}/${PUBLISH_LINK}`, this.#publisher);
    return connections;
  }

  start(welcome) {
    this.closeAll();
    this.localId = welcome.peer_id;
    this.#iceServers = Array.isArray(welcome.ice_servers) ? welcome.ice_servers : [];
    this.#pc = this.#createConnection();
    for (const peer of welcome.peers ?? []) this.addPeer(peer);
  }

  addPeer({ peer_id: peerId, name }) {
    const known = this.#people.get(peerId);
    if (known) {
      known.name = name;
      this.emit("peer-name", { peerId, name });
      return;
    }
    this.#people.set(peerId, { name, stream: new MediaStream() });
    this.emit("peer-added", { peerId, name });
    this.emit("peer-state", { peerId, state: this.#pc?.connectionState ?? "new" });
  }

  removePeer(peerId) {
    const person = this.#people.get(peerId);
    if (!person) return;
    this.#people.delete(peerId);
    this.emit("peer-removed", { peerId });
  }

  closeAll() {
    for (const peerId of [...this.#people.keys()]) this.removePeer(peerId);
    this.#pc?.close();
    this.#pc = null;
    this.#publisher?.close();
    this.#publisher = null;
  }

  /** `relay-publish` (Janus): send our media once, on a send-only connection we offer. Again
   * after Janus lost our session (a restart): both connections start afresh. */
  publish() {
    if (!this.#pc) return;
    if (this.#pc.remoteDescription) {
      this.#pc.close();
      this.#pc = this.#createConnection();
    }
    this.#publisher?.close();
    const pc = new RTCPeerConnection({ iceServers: this.#iceServers, bundlePolicy: "max-bundle" });
    this.#publisher = pc;
    pc.addEventListener("icecandidate", ({ candidate }) => {
      const init = candidate ? candidate.toJSON() : null;
      this.#send({ type: "ice", to: SERVER_PEER_ID, link: PUBLISH_LINK, candidate: init });
    });
    pc.addEventListener("connectionstatechange", () => console.info(`[relay] upload ${pc.connectionState}`));
    const kinds = this.audioOnlyRoom ? ["audio"] : ["audio", "video"];
    for (const kind of kinds) {
      const track = kind === "audio" ? this.#media.audioTrack : this.#media.videoTrack;
      pc.addTransceiver(track ?? kind, { direction: "sendonly", streams: [this.#media.stream] });
    }
    this.#queue = this.#queue
      .then(async () => {
        await pc.setLocalDescription();
        this.#send({ type: "offer", to: SERVER_PEER_ID, link: PUBLISH_LINK, sdp: pc.localDescription.sdp });
      })
      .catch((error) => console.warn("[relay] publishing failed", error));
  }

  /** Whose media a transceiver carries (by mid), or null: the upload, or unknown. */
  ownerOf(mid) {
    return this.#owners[mid] ?? null;
  }

  /** `relay-tracks` from the worker, just before its offer. */
  setTracks({ upload, tracks }) {
    this.#upload = Array.isArray(upload) ? upload : [];
    this.#owners = tracks && typeof tracks === "object" ? tracks : {};
  }

  handleSignal(message) {
    if (message.from !== SERVER_PEER_ID || !this.#pc) return;
    if (message.link === PUBLISH_LINK) return this.#handleUploadSignal(message);
    const pc = this.#pc;
    this.#queue = this.#queue
      .then(() => (message.type === "offer" ? this.#answer(pc, message.sdp) : this.#addCandidate(pc, message)))
      .catch((error) => {
        if (pc === this.#pc) console.warn(`[relay] ${message.type} failed`, error);
      });
  }

  replaceTrack(kind, track) {
    if (kind === "video" && this.audioOnlyRoom) return;
    const published = this.#publisher?.getTransceivers().find((t) => t.receiver.track.kind === kind);
    for (const sender of [this.#uploadSender(kind), published?.sender]) {
      sender?.replaceTrack(track).catch((error) => console.warn("[relay] replaceTrack", error));
    }
  }

  #handleUploadSignal(message) {
    const pc = this.#publisher;
    if (!pc) return;
    this.#queue = this.#queue
      .then(() =>
        message.type === "answer"
          ? pc.setRemoteDescription({ type: "answer", sdp: message.sdp })
          : this.#addCandidate(pc, message),
      )
      .catch((error) => {
        if (pc === this.#publisher) console.warn(`[relay] upload ${message.type} failed`, error);
      });
  }

  /** Nothing to do: mute, camera and hand reach every tile as `media-state` through the server. */
  setLocalState() {}

  #createConnection() {
    const pc = new RTCPeerConnection({ iceServers: this.#iceServers, bundlePolicy: "max-bundle" });
    pc.addEventListener("icecandidate", ({ candidate }) => {
      this.#send({ type: "ice", to: SERVER_PEER_ID, candidate: candidate ? candidate.toJSON() : null });
    });
    pc.addEventListener("track", ({ track, transceiver }) => this.#receiveTrack(transceiver.mid, track));
    pc.addEventListener("connectionstatechange", () => {
      console.info(`[relay] connection ${pc.connectionState}`);
      for (const peerId of this.#people.keys()) this.emit("peer-state", { peerId, state: pc.connectionState });
    });
    return pc;
  }

  async #answer(pc, sdp) {
    await pc.setRemoteDescription({ type: "offer", sdp });
    for (const transceiver of pc.getTransceivers()) {
      if (!this.#upload.includes(transceiver.mid)) {
        transceiver.direction = "recvonly";
        continue;
      }
      const kind = transceiver.receiver.track.kind;
      if (kind === "video" && this.audioOnlyRoom) continue;
      transceiver.direction = "sendonly";
      transceiver.sender.setStreams?.(this.#media.stream);
      await transceiver.sender.replaceTrack(kind === "audio" ? this.#media.audioTrack : this.#media.videoTrack);
    }
    await pc.setLocalDescription();
    this.#send({ type: "answer", to: SERVER_PEER_ID, sdp: pc.localDescription.sdp });
  }

  async #addCandidate(pc, { candidate }) {
    if (candidate) await pc.addIceCandidate(candidate);
  }

  #uploadSender(kind) {
    const transceiver = this.#pc
      ?.getTransceivers()
      .find((t) => this.#upload.includes(t.mid) && t.receiver.track.kind === kind);
    return transceiver?.sender ?? null;
  }

  #receiveTrack(mid, track) {
    const peerId = this.#owners[mid];
    const person = this.#people.get(peerId);
    if (!person || (track.kind === "video" && this.audioOnlyRoom)) return;
    for (const old of person.stream.getTracks()) {
      if (old.kind === track.kind) person.stream.removeTrack(old);
    }
    person.stream.addTrack(track);
    this.emit("track", { peerId, track, stream: person.stream });
  }
}
