// Entry point of the room page: pre-join screen, then the call.
//
// Reads its configuration from the #call-config JSON script (rooms.views.room) and wires the
// modules together: signaling socket -> peer mesh -> call screen, local media into both.
//
// Debugging handle (used by the browser tests, handy in the console):
//   window.audioExchange.peerConnections()  Map of peer_id -> RTCPeerConnection
//   window.audioExchange.peerId             our peer_id in the room (null before `welcome`)
//   window.audioExchange.state              "prejoin" | "joining" | "waiting" | "in-call" | "reconnecting" | "ended" | "left"

import { AudioOutput } from "./audiooutput.js";
import { gettext, interpolate } from "./i18n.js";
import { LocalMedia } from "./media.js";
import { MediaLinks } from "./links.js";
import { ModerationControls } from "./moderation.js";
import { Notices, announceComings, chime } from "./notices.js";
import { ChatPanel } from "./chat.js";
import { CommandRefused, EMBED_COMMANDS, EmbedBridge } from "./embed.js";
import { Outbox } from "./outbox.js";
import { showNetworkCheck } from "./netcheck.js";
import { PreJoinScreen } from "./prejoin.js";
import { offerCopyLink } from "./copylink.js";
import { LocalMediaState, showPeerState } from "./mediastate.js";
import { PushToTalk } from "./pushtotalk.js";
import { QualityBars } from "./quality.js";
import { WaitingRoom } from "./waiting.js";
import { bindShortcuts } from "./keyboard.js";
import { RecordingControls, SERVER_PEER_ID, showRecordingNotice } from "./recording.js";
import { RELAY_SHARE_MESSAGE, ScreenShare, ScreenStage, showWhilePresenting } from "./screenshare.js";
import { SpeakerDetector } from "./speaker.js";
import { SignalingClient } from "./signaling.js";
import { CallTelemetry } from "./telemetry.js";
import { CallScreen } from "./ui.js";

const config = JSON.parse(document.getElementById("call-config").textContent);
const audioOnlyRoom = Boolean(config.room.audio_only);
const session = { state: "prejoin", peerId: null, mesh: null, hangUp: () => {} };

window.audioExchange = Object.freeze({
  peerConnections: () => session.mesh?.connections() ?? new Map(),
  get peerId() {
    return session.peerId;
  },
  get state() {
    return session.state;
  },
});

const media = new LocalMedia({ audioOnlyRoom });
const speakerChoice = new AudioOutput({
  field: document.getElementById("speaker-field"),
  select: document.getElementById("speaker-select"),
  root: document.getElementById("call"),
});
// Inside an allowed site's <iframe>: commands from that page, events to it (static/js/embed.js).
const embed = new EmbedBridge({ origins: config.embed_origins });

async function main() {
  embed.handle(Object.fromEntries(EMBED_COMMANDS.map((command) => [command, refuseOutsideCall])));
  embed.post("ready", { room: config.room.slug });
  showNetworkCheck(document.getElementById("network-check"), config.ice_servers_url);
  offerCopyLink(document.getElementById("copy-link"), document.getElementById("copy-status"));
  if (config.recording_active) showRecordingNotice(document.getElementById("prejoin"));
  speakerChoice.start().catch((error) => console.warn("[audio output]", error));
  media.on("devices", () => speakerChoice.refresh());
  media.on("state", () => speakerChoice.named || speakerChoice.refresh()); // names come with capture
  const prejoin = new PreJoinScreen({
    root: document.getElementById("prejoin"),
    media,
    audioOnlyRoom,
    displayName: config.display_name,
  });
  await prejoin.run();
  joinCall(prejoin.devices);
}

function joinCall(devicesPanel) {
  session.state = "joining";
  const screen = new CallScreen({
    root: document.getElementById("call"),
    audioOnlyRoom,
    displayName: config.display_name,
    lobbyUrl: embed.active ? null : config.lobby_url,
  });
  const signaling = new SignalingClient(config.ws_path);
  // A mesh, or one connection to the media worker in relay rooms (and `auto` rooms when large).
  const mesh = new MediaLinks({
    send: (message) => signaling.send(message),
    media,
    audioOnlyRoom,
    iceServersUrl: config.ice_servers_url,
    fallbackAfterMs: config.fallback_after_ms ?? null,
  });
  const telemetry = new CallTelemetry({ connections: () => mesh.connections(), send: (message) => signaling.send(message) });
  // What the person does (chat, moderation, recording) waits here while the socket is down.
  const outbox = new Outbox({ send: (message) => signaling.send(message), storageKey: `outbox:${config.ws_path}` });
  const recording = new RecordingControls({
    root: document.getElementById("call"),
    canRecord: Boolean(config.can_record),
    send: (message) => outbox.sendOnce(message),
  });
  const chat = new ChatPanel({
    root: document.getElementById("chat-panel"),
    toggle: document.getElementById("chat-button"),
    outbox,
    name: config.display_name,
  });
  session.mesh = mesh;
  let stopInCallMedia = () => {};
  // Everything a call holds, let go of at once when it ends (leave, refusal, page closed).
  session.hangUp = () => {
    stopInCallMedia();
    telemetry.stop();
    signaling.close();
    mesh.closeAll();
    media.stop();
  };

  screen.show(devicesPanel);
  screen.setLocalStream(media.stream, { muted: media.muted, cameraOn: media.cameraOn });
  screen.showBanner(gettext("Connecting…"));
  mesh.setLocalState({ muted: media.muted, cameraOn: media.cameraOn });

  if (embed.active) wireEmbedding(screen, signaling, mesh); // first: `joined` goes out before the rest
  wireMedia(screen, mesh);
  wireMesh(screen, mesh);
  wireSignaling(screen, signaling, mesh);
  const notices = new Notices(document.getElementById("notices"));
  announceComings(notices, signaling, () => session.peerId);
  wireRecording(recording, signaling, mesh, screen, notices);
  wireChat(chat, outbox, signaling);
  wireModeration(screen, signaling, mesh, outbox, notices);
  stopInCallMedia = wireInCallMedia(screen, signaling, mesh); // after wireSignaling: tiles exist by then
  wireControls(screen);
  wireWaiting(signaling);
  bindShortcuts({
    root: document.getElementById("call"),
    helpDialog: document.getElementById("shortcuts-dialog"),
    helpButton: document.getElementById("shortcuts-button"),
    active: () => session.state === "in-call" || session.state === "reconnecting",
  });
  document.getElementById("mute-button").focus(); // the toolbar, not the Join button that is gone
  signaling.connect();
  telemetry.start();
}

function wireMedia(screen, mesh) {
  media.on("track", ({ kind, track }) => {
    mesh.replaceTrack(kind, track);
    screen.setLocalStream(media.stream, { muted: media.muted, cameraOn: media.cameraOn });
  });
  media.on("state", (state) => {
    mesh.setLocalState(state);
    screen.setLocalState(state);
  });
}

function wireMesh(screen, mesh) {
  mesh.on("peer-added", ({ peerId, name }) => {
    screen.addPeer(peerId, name);
    screen.setPeerPath(peerId, mesh.pathOf(peerId));
  });
  mesh.on("peer-path", ({ peerId, path }) => screen.setPeerPath(peerId, path));
  mesh.on("peer-name", ({ peerId, name }) => screen.renamePeer(peerId, name));
  mesh.on("peer-removed", ({ peerId }) => screen.removePeer(peerId));
  mesh.on("peer-state", ({ peerId, state }) => screen.setPeerState(peerId, state));
  mesh.on("peer-media", ({ peerId, ...state }) => screen.setPeerMedia(peerId, state));
  mesh.on("track", ({ peerId, track, stream }) => screen.addTrack(peerId, track, stream));
}

function wireSignaling(screen, signaling, mesh) {
  signaling.on("welcome", (welcome) => {
    session.peerId = welcome.peer_id;
    session.state = "in-call";
    screen.hideBanner();
    mesh.start(welcome);
  });
  signaling.on("peer-joined", ({ peer }) => mesh.addPeer(peer));
  signaling.on("peer-left", ({ peer_id: peerId, resumable }) => mesh.removePeer(peerId, { resumable: resumable === true }));
  for (const type of ["offer", "answer", "ice"]) signaling.on(type, (message) => mesh.handleSignal(message));
  signaling.on("relay-tracks", (message) => mesh.setTracks(message));
  signaling.on("relay-publish", () => mesh.publishToRelay());
  signaling.on("media-mode", ({ mode }) => mesh.setMode(mode));
  signaling.on("relay-fallback", ({ peer_id: peerId }) => mesh.relayWith(peerId));
  signaling.on("error", ({ code, message }) => {
    // A signal to someone who just left is an expected race, not news for the user.
    if (code === "unknown_peer") return console.info("[call]", message);
    // A candidate the media server may not use (a private address): the others may do.
    if (code === "bad_candidate") return console.info("[call]", message);
    if (code.startsWith("chat_")) return undefined; // shown in the chat panel
    screen.showBanner(message, { kind: "error" });
  });
  signaling.on("reconnecting", ({ at }) => {
    session.state = "reconnecting";
    screen.showBanner(gettext("Connection to the server lost; reconnecting"), {
      until: at,
      action: { text: gettext("Try now"), onClick: () => signaling.retryNow() },
    });
  });
  signaling.on("refused", ({ message }) => endCall(screen, message));
  signaling.on("closed", ({ code }) => {
    if (session.state !== "left") endCall(screen, interpolate(gettext("Disconnected from the server (code %(code)s)."), { code }));
  });
}

function wireRecording(recording, signaling, mesh, screen, notices) {
  signaling.on("welcome", (welcome) => recording.setActive(Boolean(welcome.room?.recording)));
  signaling.on("recording", ({ active, by, message }) => {
    if (active !== recording.active) notices.show(active ? recordingStartedBy(by) : gettext("Recording stopped"));
    recording.setActive(active, by);
    if (!active) mesh.removePeer(SERVER_PEER_ID); // the worker closed its side
    if (message) screen.showBanner(message); // the server stopped it (time limit, disk): why
  });
  signaling.on("error", ({ code }) => {
    if (code === "forbidden" || code.startsWith("recording_")) recording.enable();
  });
}

function recordingStartedBy(by) {
  return by ? interpolate(gettext("%(name)s started recording"), { name: by }) : gettext("The server started recording");
}

function wireChat(chat, outbox, signaling) {
  signaling.on("welcome", (welcome) => {
    for (const line of welcome.chat ?? []) outbox.acknowledge(line.id); // stored before the ack reached us
    chat.load(welcome.chat);
    outbox.connected();
  });
  signaling.on("chat", (message) => {
    outbox.acknowledge(message.id);
    chat.add(message);
  });
  signaling.on("error", ({ code, message, id }) => {
    if (id) outbox.refuse(id, code);
    if (code.startsWith("chat_") && code !== "chat_too_fast") chat.showError(message);
  });
  signaling.on("reconnecting", () => outbox.disconnected());
  for (const type of ["refused", "closed"]) signaling.on(type, () => outbox.giveUp());
}

function wireModeration(screen, signaling, mesh, outbox, notices) {
  const moderation = new ModerationControls({
    root: document.getElementById("call"),
    canModerate: Boolean(config.can_moderate),
    locked: Boolean(config.locked),
    send: (message) => outbox.sendOnce(message),
    dialog: document.getElementById("confirm-dialog"),
  });
  mesh.on("peer-added", ({ peerId, name }) => moderation.addPeer(peerId, name));
  signaling.on("welcome", ({ peers }) => moderation.noteGuests(peers));
  signaling.on("peer-joined", ({ peer }) => moderation.noteGuests([peer]));
  signaling.on("welcome", () => moderation.clearWaiting());
  signaling.on("knocking", ({ peer }) => {
    moderation.addWaiting(peer);
    if (moderation.canModerate) askAboutKnock(notices, outbox, peer);
  });
  signaling.on("knock-withdrawn", ({ peer_id: peerId }) => {
    moderation.removeWaiting(peerId);
    notices.drop(`knock:${peerId}`);
  });
  signaling.on("room-locked", ({ locked, by }) => {
    moderation.setLocked(locked);
    notices.show(interpolate(locked ? gettext("%(by)s locked the room: nobody new can join.") : gettext("%(by)s unlocked the room."), { by }));
  });
  signaling.on("mute", ({ forced, by }) => {
    if (forced) media.setMuted(true);
    notices.show(interpolate(forced ? gettext("%(by)s muted you. Unmute when you want to speak.") : gettext("%(by)s asks you to mute."), { by }));
  });
}

// A moderator hears a chime and can answer a knock right in the notice.
function askAboutKnock(notices, outbox, { peer_id: peerId, name }) {
  const answer = (action) => () => outbox.sendOnce({ type: "moderate", action, peer_id: peerId });
  const notice = notices.show(interpolate(gettext("%(name)s is asking to join"), { name }), {
    key: `knock:${peerId}`,
    stays: true,
    actions: [
      [gettext("Admit"), interpolate(gettext("Admit %(name)s"), { name }), answer("admit")],
      [gettext("Deny"), interpolate(gettext("Deny %(name)s"), { name }), answer("deny")],
    ],
  });
  if (chime()) notice.dataset.chimed = "true";
}

// Screen sharing, media-state (mute flags, raised hands), active speaker and push-to-talk.
// Returns what stops them when the call ends.
function wireInCallMedia(screen, signaling, mesh) {
  const root = document.getElementById("call");
  const share = new ScreenShare({ mesh, button: root.querySelector("#share-button") });
  const stage = new ScreenStage(root.querySelector("#stage"));
  const local = new LocalMediaState({
    send: (message) => signaling.send(message),
    media,
    screenShare: share,
    handButton: root.querySelector("#hand-button"),
    onHand: (raised) => screen.setPeerHand("local", raised),
  });
  const quality = new QualityBars({
    ownerOf: (mid) => mesh.ownerOf(mid),
    relayed: (peerId) => mesh.pathOf(peerId) === "relayed",
  });
  const speakers = new SpeakerDetector({
    connections: () => mesh.connections(),
    ignore: (peerId) => peerId === SERVER_PEER_ID,
    onChange: (peerId, speaking) => screen.setSpeaking(peerId, speaking),
    onReport: (peerId, report) => quality.observe(peerId, report),
  });
  new PushToTalk({ toggle: root.querySelector("#ptt-toggle"), media });
  share.on("change", () => local.announce());
  showWhilePresenting(root.querySelector("#presenting-bar"), share);
  share.on("error", (message) => screen.showBanner(message, { kind: "error" }));
  mesh.on("share-unavailable", () => {
    share.stop(); // an `auto` room moved to the relay, which does not forward the screen yet
    screen.showBanner(RELAY_SHARE_MESSAGE, { kind: "error" });
  });
  media.on("state", () => local.announce());
  for (const type of ["peer-added", "peer-name"]) mesh.on(type, ({ peerId, name }) => stage.setName(peerId, name));
  mesh.on("peer-removed", ({ peerId }) => stage.removePeer(peerId));
  mesh.on("extra-track", ({ peerId, track, stream }) => stage.addTrack(peerId, track, stream));
  screen.on("tile-added", ({ peerId, root: tile, media: player }) => {
    quality.attach(peerId, tile);
    speakerChoice.applyAll(tile);
  });
  mesh.on("peer-removed", ({ peerId }) => quality.forget(peerId));
  signaling.on("welcome", (welcome) => {
    for (const [peerId, state] of Object.entries(welcome.media_states ?? {})) showPeerState(screen, stage, peerId, state);
    local.announce({ force: true }); // a new (or resumed) peer id: the room has no state for it
  });
  signaling.on("media-state", (state) => {
    if (state.from !== session.peerId) showPeerState(screen, stage, state.from, state);
  });
  speakers.start();
  return () => {
    speakers.stop();
    share.stop();
    local.stop();
  };
}

function wireControls(screen) {
  screen.on("mute", (muted) => media.setMuted(muted));
  screen.on("camera", async (wanted) => {
    try {
      if (wanted) await media.startCamera();
      else media.stopCamera();
    } catch (error) {
      screen.showBanner(interpolate(gettext("Camera: %(problem)s"), { problem: error.message }), { kind: "error" });
    }
  });
  screen.on("leave", () => leaveFromPage(screen));
  window.addEventListener("pagehide", leaveCall);
}

function leaveCall() {
  if (session.state === "left") return;
  session.state = "left";
  session.hangUp();
  embed.post("left", { reason: "left" });
}

// The Leave button (or the embedding page's `leave`): back to the lobby, or, inside another
// site's frame, which the lobby refuses, a closing word.
function leaveFromPage(screen) {
  leaveCall();
  if (embed.active) screen.end(gettext("You left the call."), { kind: "info" });
  else window.location.assign(config.lobby_url);
}

function leaveForTheLobby() {
  leaveCall();
  window.location.assign(config.lobby_url);
}

// Knocking: wait on the pre-join screen until let in (welcome) or turned away (refused).
function wireWaiting(signaling) {
  const waiting = new WaitingRoom({
    prejoinRoot: document.getElementById("prejoin"),
    callRoot: document.getElementById("call"),
    media,
    onCancel: leaveForTheLobby,
  });
  signaling.on("waiting", ({ message }) => {
    session.state = "waiting";
    waiting.show(message);
  });
  for (const type of ["welcome", "refused", "closed"]) signaling.on(type, () => waiting.hide());
}

function endCall(screen, message) {
  const wasIn = session.state !== "left" && session.state !== "ended";
  session.state = "ended";
  session.hangUp();
  screen.end(message);
  if (wasIn) embed.post("left", { reason: "ended", message });
}

function refuseOutsideCall() {
  throw new CommandRefused("not_in_call", "Not in the call: the person has not pressed Join yet, or has left.");
}

// The embedding page's commands (docs/embedding.md), and what it hears of the call.
function wireEmbedding(screen, signaling, mesh) {
  const whenInCall = (action) => () => {
    if (session.state !== "in-call" && session.state !== "reconnecting") refuseOutsideCall();
    return action();
  };
  embed.handle({
    mute: whenInCall(() => media.setMuted(true)),
    unmute: whenInCall(() => media.setMuted(false)),
    "camera-on": whenInCall(async () => {
      if (audioOnlyRoom) throw new CommandRefused("audio_only_room", "This is an audio-only room: there is no camera.");
      if (!media.cameraOn) await media.startCamera();
    }),
    "camera-off": whenInCall(() => media.stopCamera()),
    leave: whenInCall(() => leaveFromPage(screen)),
    "end-for-all": whenInCall(() => {
      if (!config.can_moderate) {
        throw new CommandRefused(
          "not_moderator",
          "Only a moderator can end the call for everyone: give this person a join token with moderator true.",
        );
      }
      signaling.send({ type: "moderate", action: "end" });
    }),
  });
  const live = () => session.state === "in-call" || session.state === "reconnecting";
  signaling.on("welcome", (welcome) => {
    if (welcome.resumed) return;
    const me = { peerId: welcome.peer_id, name: config.display_name, moderator: Boolean(config.can_moderate) };
    embed.post("joined", { room: config.room.slug, ...me });
    embed.post("recording", { active: Boolean(welcome.room?.recording) });
  });
  mesh.on("peer-added", ({ peerId, name }) => {
    if (live() && peerId !== SERVER_PEER_ID) embed.post("participant-joined", { peerId, name });
  });
  mesh.on("peer-removed", ({ peerId }) => {
    if (live() && peerId !== SERVER_PEER_ID) embed.post("participant-left", { peerId });
  });
  signaling.on("recording", ({ active, by }) => embed.post("recording", { active: Boolean(active), by: by ?? "" }));
}

main().catch((error) => {
  console.error("[call]", error);
  session.state = "ended";
});
