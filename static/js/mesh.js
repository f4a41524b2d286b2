// The peer mesh: one RTCPeerConnection per other participant, negotiated with the W3C
// "perfect negotiation" pattern over the signaling socket, with trickle ICE.
//
// Who offers: the newcomer adds its transceivers (and the state data channel) for every peer
// listed in `welcome`, so its offers go first; the others create their connection on
// `peer-joined` (or on the first signal, if that arrives earlier) and only answer, taking the
// offered transceivers for their own tracks. Later renegotiations (ICE restarts) may start on
// either side; perfect negotiation resolves the glare.
//
// Events: "peer-added" {peerId, name}, "peer-name" {peerId, name}, "peer-removed" {peerId},
// "peer-state" {peerId, state}, "track" {peerId, track, stream},
// "peer-media" {peerId, muted, cameraOn} (what the other side says about its microphone and camera),
// "extra-track" {peerId, track, stream}: a video track beyond the camera, such as a shared
// screen (which one is a screen, `media-state.screen` says; static/js/screenshare.js).
//
// "direct-failed" {peerId}: no direct connection `fallbackAfterMs` after an ICE restart (itself
// made when the connection fails, or is not up `fallbackAfterMs` after it was created); links.js
// then asks the relay to carry that pair, and `relayPeer` stops the restarts.
// Resuming (docs/protocol.md): when someone's socket drops, `peer-left` says `resumable` and we
// hold their connection for the grace the server gave (`welcome.resume_seconds`), their tile
// saying "reconnecting…"; if they come back under the same id (`peer-joined`, or listed in our
// own resumed `welcome`) the connection is kept and ICE restarted, else it is closed when the
// grace ends. Of each pair only the impolite side restarts, so the two restarts never cross.
//
// Extra outgoing tracks (setExtraTrack) get a sendonly transceiver of their own after the
// camera's, so the camera keeps the first video m-line on both sides; removing one stops
// its transceiver, which ends the track on the other side.

import { Emitter } from "./emitter.js";
import { SERVER_PEER_ID } from "./recording.js";

const STATE_CHANNEL = { negotiated: true, id: 0 };

// Test-only: tests/test_browser_fallback.py sets this global with an init script so that direct
// connections cannot come up (the other side's ICE candidates are dropped). No page config sets it.
const directBlockedForTests = () => globalThis.__audioExchangeTest?.blockDirectConnections === true;

export function videoBitrateCap(remotePeers, { budgetBps = 2_500_000, minBps = 150_000, maxBps = 1_500_000 } = {}) {
  const share = budgetBps / Math.max(1, remotePeers);
  return Math.round(Math.min(maxBps, Math.max(minBps, share)));
}

class RemotePeer {
  constructor(peerId, name, pc, polite) {
    this.peerId = peerId;
    this.name = name;
    this.pc = pc;
    this.polite = polite;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingRemoteAnswer = false;
    this.senders = { audio: null, video: null };
    this.extra = null; // our transceiver carrying the extra track (a shared screen), if any
    this.channel = null;
    this.stream = new MediaStream();
    this.queue = Promise.resolve();
    this.closed = false;
    this.watchdog = null; // the fallback timer (see "direct-failed")
    this.iceRestarted = false;
    this.relayed = false; // the relay carries this pair now: no more ICE restarts
    this.graceTimer = null; // set while their socket is away (held for a resume)
  }

  get log() {
    return `[mesh ${this.peerId}]`;
  }
}

export class PeerMesh extends Emitter {
  #peers = new Map();
  #send;
  #media;
  #iceServers = [];
  #iceServersUrl;
  #iceRefresh = null;
  #localState = { muted: false, cameraOn: false };
  #extra = null; // {track, stream} sent to every peer besides the camera
  #graceMs = 60000;

  /**
   * @param send - function(message) that puts one signaling message on the socket
   * @param media - the LocalMedia whose tracks are sent
   * @param audioOnlyRoom - never send or accept video
   */
  constructor({ send, media, audioOnlyRoom, bitrate = {}, iceServersUrl = null, fallbackAfterMs = null }) {
    super();
    this.#send = send;
    this.#iceServersUrl = iceServersUrl;
    this.#media = media;
    this.audioOnlyRoom = audioOnlyRoom;
    this.bitrate = bitrate;
    this.fallbackAfterMs = fallbackAfterMs; // null: never give up on a direct connection
    this.localId = null;
    this.path = "direct"; // each peer's media comes straight from them (relay.js: "relayed")
  }

  /** Debugging view: peer_id -> RTCPeerConnection. */
  connections() {
    return new Map([...this.#peers].map(([peerId, peer]) => [peerId, peer.pc]));
  }

  /** (Re)join from a `welcome`: forget every earlier connection, then offer to everyone listed.
   * A `resumed` welcome (our own peer id back) keeps the connections instead (#resume). */
  start(welcome) {
    this.#graceMs = 1000 * (Number(welcome.resume_seconds) || 60);
    this.#useIceServers(Array.isArray(welcome.ice_servers) ? welcome.ice_servers : []);
    if (welcome.resumed === true && welcome.peer_id === this.localId) {
      this.#resume(welcome.peers ?? []);
      return;
    }
    this.closeAll();
    this.localId = welcome.peer_id;
    for (const peer of welcome.peers ?? []) this.#createPeer(peer.peer_id, peer.name, { initiator: true });
    this.#applyBitrateCaps();
  }

  /** Someone joined after us (or came back under their id while held): be ready for their offer. */
  addPeer({ peer_id: peerId, name }) {
    const known = this.#peers.get(peerId);
    if (known) {
      if (known.graceTimer) this.#welcomeBack(known);
      known.name = name;
      this.emit("peer-name", { peerId, name });
      return;
    }
    this.#createPeer(peerId, name, { initiator: false });
    this.#applyBitrateCaps();
  }

  /** Their socket dropped (`peer-left` with `resumable`): keep the connection for the grace period. */
  holdPeer(peerId) {
    const peer = this.#peers.get(peerId);
    if (!peer || peerId === SERVER_PEER_ID) {
      this.removePeer(peerId);
      return;
    }
    clearTimeout(peer.graceTimer);
    peer.graceTimer = setTimeout(() => this.removePeer(peerId), this.#graceMs);
    this.emit("peer-state", { peerId, state: "reconnecting" });
  }

  // Our socket came back under the same id: keep the connections of those listed; those not
  // listed may be reconnecting too (after a restart everyone is), so hold them. The recorder
  // ("server") opens a new connection of its own, so its old one goes.
  #resume(listed) {
    const names = new Map(listed.map((peer) => [peer.peer_id, peer.name]));
    for (const [peerId, peer] of [...this.#peers]) {
      if (peerId === SERVER_PEER_ID) this.removePeer(peerId);
      else if (names.has(peerId)) this.#welcomeBack(peer);
      else if (!peer.graceTimer) this.holdPeer(peerId);
    }
    for (const [peerId, name] of names) {
      if (!this.#peers.has(peerId)) this.#createPeer(peerId, name, { initiator: true });
    }
    this.#applyBitrateCaps();
  }

  // Signals may have been lost while a socket was away: a new ICE round (same DTLS, same
  // tracks) brings the path back. A stale offer of ours that never got its answer goes first.
  #welcomeBack(peer) {
    clearTimeout(peer.graceTimer);
    peer.graceTimer = null;
    this.emit("peer-state", { peerId: peer.peerId, state: peer.pc.connectionState });
    peer.queue = peer.queue
      .then(async () => {
        if (peer.closed) return;
        peer.pc.setConfiguration({ ...peer.pc.getConfiguration(), iceServers: this.#iceServers }); // fresh TURN credentials
        if (peer.pc.signalingState === "have-local-offer") await peer.pc.setLocalDescription({ type: "rollback" });
        if (!peer.polite) peer.pc.restartIce();
      })
      .catch((error) => console.warn(`${peer.log} ICE restart failed`, error));
  }

  removePeer(peerId) {
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    this.#peers.delete(peerId);
    this.#close(peer);
    this.emit("peer-removed", { peerId });
    this.#applyBitrateCaps();
  }

  closeAll() {
    clearTimeout(this.#iceRefresh);
    for (const peerId of [...this.#peers.keys()]) this.removePeer(peerId);
  }

  /** An `offer`, `answer` or `ice` relayed from another peer. */
  handleSignal(message) {
    if (this.localId === null || typeof message.from !== "string" || message.from === this.localId) return;
    let peer = this.#peers.get(message.from);
    if (!peer) {
      // Their first signal outran `peer-joined`; the name follows with it.
      peer = this.#createPeer(message.from, "", { initiator: false });
      this.#applyBitrateCaps();
    }
    // One message at a time per peer: an answer is sent before the next offer is looked at.
    peer.queue = peer.queue
      .then(() => (message.type === "ice" ? this.#acceptCandidate(peer, message.candidate) : this.#acceptDescription(peer, message)))
      .catch((error) => {
        if (!peer.closed) console.warn(`${peer.log} ${message.type} failed`, error);
      });
  }

  /** The local track of `kind` changed (device switch, camera on/off): swap it on every sender. */
  replaceTrack(kind, track) {
    if (kind === "video" && this.audioOnlyRoom) return;
    for (const peer of this.#peers.values()) {
      peer.senders[kind]?.replaceTrack(track).catch((error) => console.warn(`${peer.log} replaceTrack`, error));
    }
  }

  /** Send `track` of `stream` to every peer on a transceiver of its own (renegotiates); null stops it. */
  setExtraTrack(track, stream) {
    this.#extra = track ? { track, stream } : null;
    for (const peer of this.#peers.values()) {
      if (peer.extra) {
        peer.extra.stop();
        peer.extra = null;
      }
      if (peer.senders.audio) this.#addExtraTransceiver(peer);
    }
  }

  #addExtraTransceiver(peer) {
    if (!this.#extra || peer.extra || peer.peerId === SERVER_PEER_ID || peer.closed) return;
    const { track, stream } = this.#extra;
    peer.extra = peer.pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  }

  /** The relay carries this pair now: stop restarting ICE towards them (the connection stays). */
  relayPeer(peerId) {
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    peer.relayed = true;
    clearTimeout(peer.watchdog);
  }

  /** Tell every peer whether we are muted and whether our camera is on. */
  setLocalState(state) {
    this.#localState = { muted: Boolean(state.muted), cameraOn: Boolean(state.cameraOn) };
    for (const peer of this.#peers.values()) this.#sendState(peer);
  }

  // TURN credentials are short-lived (username "<expiry>:<user>"): new peers and ICE restarts
  // need live ones, so fetch fresh servers when 60% of their lifetime has passed.
  #useIceServers(servers) {
    this.#iceServers = servers;
    clearTimeout(this.#iceRefresh);
    const expiries = servers
      .map((server) => Number.parseInt(String(server.username ?? "").split(":")[0], 10))
      .filter(Number.isFinite);
    if (!expiries.length || !this.#iceServersUrl) return;
    const lifetime = Math.min(...expiries) * 1000 - Date.now();
    this.#iceRefresh = setTimeout(() => this.#refreshIceServers(), Math.max(5000, lifetime * 0.6));
  }

  async #refreshIceServers() {
    try {
      const response = await fetch(this.#iceServersUrl, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const { ice_servers: servers } = await response.json();
      this.#useIceServers(servers);
      for (const peer of this.#peers.values()) {
        peer.pc.setConfiguration({ ...peer.pc.getConfiguration(), iceServers: servers });
      }
    } catch (error) {
      console.warn("could not refresh ICE servers; retrying in 30 s", error);
      this.#iceRefresh = setTimeout(() => this.#refreshIceServers(), 30000);
    }
  }

  #createPeer(peerId, name, { initiator }) {
    const pc = new RTCPeerConnection({ iceServers: this.#iceServers });
    // Any fixed order works for politeness, as long as both sides compute the opposite answer.
    const peer = new RemotePeer(peerId, name, pc, this.localId < peerId);
    this.#peers.set(peerId, peer);
    pc.addEventListener("negotiationneeded", () => this.#makeOffer(peer));
    pc.addEventListener("icecandidate", ({ candidate }) => {
      this.#send({ type: "ice", to: peerId, candidate: candidate ? candidate.toJSON() : null });
    });
    pc.addEventListener("track", ({ track, transceiver, streams }) => this.#receiveTrack(peer, track, transceiver, streams));
    pc.addEventListener("connectionstatechange", () => this.#connectionChanged(peer));
    pc.addEventListener("signalingstatechange", () => {
      if (pc.signalingState === "stable") this.#applyBitrateCaps();
    });
    this.emit("peer-added", { peerId, name });
    this.emit("peer-state", { peerId, state: pc.connectionState });
    this.#watch(peer);
    if (initiator) {
      this.#addTransceivers(peer);
      this.#attachChannel(peer, pc.createDataChannel("state", STATE_CHANNEL));
      this.#addExtraTransceiver(peer);
    }
    return peer;
  }

  #addTransceivers(peer) {
    const streams = [this.#media.stream];
    const audio = peer.pc.addTransceiver(this.#media.audioTrack ?? "audio", { direction: "sendrecv", streams });
    peer.senders.audio = audio.sender;
    if (!this.audioOnlyRoom) {
      // Sent even with the camera off (null track), so turning it on needs no renegotiation.
      const video = peer.pc.addTransceiver(this.#media.videoTrack ?? "video", { direction: "sendrecv", streams });
      peer.senders.video = video.sender;
    }
  }

  /** Answering side: use the offered transceivers (one per kind) to send our own tracks. */
  async #claimTransceivers(peer) {
    for (const transceiver of peer.pc.getTransceivers()) {
      const kind = transceiver.receiver.track.kind;
      if (transceiver.currentDirection === "stopped" || transceiver.direction === "stopped") continue;
      if (peer.senders[kind] === transceiver.sender || transceiver === peer.extra) continue;
      if ((kind === "video" && this.audioOnlyRoom) || peer.senders[kind]) {
        // A second video (their shared screen) is received; anything else is not wanted.
        transceiver.direction = kind === "video" && !this.audioOnlyRoom ? "recvonly" : "inactive";
        continue;
      }
      peer.senders[kind] = transceiver.sender;
      // The recording worker only receives.
      transceiver.direction = peer.peerId === SERVER_PEER_ID ? "sendonly" : "sendrecv";
      transceiver.sender.setStreams?.(this.#media.stream);
      await transceiver.sender.replaceTrack(kind === "audio" ? this.#media.audioTrack : this.#media.videoTrack);
    }
    if (!peer.channel && peer.pc.remoteDescription?.sdp.includes("m=application")) {
      this.#attachChannel(peer, peer.pc.createDataChannel("state", STATE_CHANNEL));
    }
    this.#addExtraTransceiver(peer); // once the camera holds the first video m-line
  }

  async #makeOffer(peer) {
    try {
      peer.makingOffer = true;
      await peer.pc.setLocalDescription();
      const { type, sdp } = peer.pc.localDescription;
      this.#send({ type, to: peer.peerId, sdp });
    } catch (error) {
      if (!peer.closed) console.warn(`${peer.log} offer failed`, error);
    } finally {
      peer.makingOffer = false;
    }
  }

  async #acceptDescription(peer, { type, sdp }) {
    const { pc } = peer;
    const readyForOffer = !peer.makingOffer && (pc.signalingState === "stable" || peer.settingRemoteAnswer);
    const collision = type === "offer" && !readyForOffer;
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    peer.settingRemoteAnswer = type === "answer";
    if (directBlockedForTests()) sdp = sdp.replace(/^a=candidate:.*\r\n/gm, "");
    try {
      await pc.setRemoteDescription({ type, sdp }); // rolls back our own offer if we are polite
    } finally {
      peer.settingRemoteAnswer = false;
    }
    if (type !== "offer") return;
    await this.#claimTransceivers(peer);
    await pc.setLocalDescription();
    this.#send({ type: pc.localDescription.type, to: peer.peerId, sdp: pc.localDescription.sdp });
  }

  async #acceptCandidate(peer, candidate) {
    if (!candidate || directBlockedForTests()) return;
    try {
      await peer.pc.addIceCandidate(candidate);
    } catch (error) {
      if (!peer.ignoreOffer) throw error; // candidates of an offer we ignored are expected to fail
    }
  }

  #receiveTrack(peer, track, transceiver, streams) {
    if ((track.kind === "video" && this.audioOnlyRoom) || peer.peerId === SERVER_PEER_ID) return;
    const camera = peer.pc.getTransceivers().find((candidate) => candidate.receiver.track.kind === "video");
    if (track.kind === "video" && transceiver !== camera) {
      this.emit("extra-track", { peerId: peer.peerId, track, stream: streams[0] ?? new MediaStream([track]) });
      return;
    }
    for (const old of peer.stream.getTracks()) {
      if (old.kind === track.kind) peer.stream.removeTrack(old);
    }
    peer.stream.addTrack(track);
    this.emit("track", { peerId: peer.peerId, track, stream: peer.stream });
  }

  #connectionChanged(peer) {
    const state = peer.pc.connectionState;
    console.info(`${peer.log} connection ${state}`);
    this.emit("peer-state", { peerId: peer.peerId, state });
    if (peer.relayed) return;
    // A new ICE round (negotiated like any offer) often rescues a path that broke; if it does not
    // within `fallbackAfterMs`, the relay is asked to carry this pair.
    if (state === "failed") {
      peer.pc.restartIce();
      if (!peer.iceRestarted) this.#watch(peer, { restarted: true });
    }
    if (state === "connected") {
      clearTimeout(peer.watchdog);
      peer.iceRestarted = false;
      this.#applyBitrateCaps();
    }
  }

  #watch(peer, { restarted = false } = {}) {
    if (!this.fallbackAfterMs || peer.peerId === SERVER_PEER_ID) return;
    peer.iceRestarted = restarted;
    clearTimeout(peer.watchdog);
    peer.watchdog = setTimeout(() => this.#directTimedOut(peer), this.fallbackAfterMs);
  }

  #directTimedOut(peer) {
    if (peer.closed || peer.relayed || peer.pc.connectionState === "connected") return;
    // Their socket is away (held for a resume): the server would not know them; ask once they are back.
    if (peer.graceTimer) return this.#watch(peer, { restarted: peer.iceRestarted });
    // Not negotiated yet (their offer is late): no ICE to restart, and an offer from the answering
    // side now would cross theirs. Wait again.
    if (!peer.pc.remoteDescription) return this.#watch(peer, { restarted: peer.iceRestarted });
    if (peer.iceRestarted) {
      console.info(`${peer.log} no direct connection after an ICE restart: asking the relay`);
      this.emit("direct-failed", { peerId: peer.peerId });
      return;
    }
    console.info(`${peer.log} no direct connection yet: restarting ICE`);
    peer.pc.restartIce();
    this.#watch(peer, { restarted: true });
  }

  #attachChannel(peer, channel) {
    peer.channel = channel;
    channel.addEventListener("open", () => this.#sendState(peer));
    channel.addEventListener("message", ({ data }) => {
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        return;
      }
      if (message?.type !== "media-state") return;
      this.emit("peer-media", { peerId: peer.peerId, muted: message.muted === true, cameraOn: message.cameraOn === true });
    });
  }

  #sendState(peer) {
    if (peer.channel?.readyState !== "open") return;
    peer.channel.send(JSON.stringify({ type: "media-state", ...this.#localState }));
  }

  /** Keep the total video upload near the budget: each of N-1 peers gets an equal share. */
  #applyBitrateCaps() {
    if (this.audioOnlyRoom) return;
    const people = this.#peers.size - (this.#peers.has(SERVER_PEER_ID) ? 1 : 0);
    const cap = videoBitrateCap(Math.max(1, people), this.bitrate);
    for (const peer of this.#peers.values()) {
      const sender = peer.senders.video;
      if (!sender || peer.closed) continue;
      const params = sender.getParameters();
      if (!params.encodings?.length || params.encodings[0].maxBitrate === cap) continue;
      params.encodings[0].maxBitrate = cap;
      sender.setParameters(params).catch((error) => console.warn(`${peer.log} setParameters`, error));
    }
  }

  #close(peer) {
    peer.closed = true;
    clearTimeout(peer.watchdog);
    clearTimeout(peer.graceTimer);
    peer.channel?.close();
    peer.pc.close();
    for (const track of peer.stream.getTracks()) track.stop();
  }
}
