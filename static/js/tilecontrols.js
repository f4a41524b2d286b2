// Per-person listening controls on each remote tile: a volume slider and "mute for me".
// Client-only: they change how loud this page plays that person, never what anyone sends.

import { gettext } from "./i18n.js";

function labelled(tag, className, label) {
  const node = document.createElement(tag);
  node.className = className;
  node.setAttribute("aria-label", label);
  return node;
}

/** Add the controls to one tile; `media` is the tile's <video>/<audio>, which plays the person. */
export function attachTileControls(root, media) {
  const box = document.createElement("div");
  box.className = "tile-controls";
  const slider = labelled("input", "volume", gettext("Volume"));
  Object.assign(slider, { type: "range", min: "0", max: "100", step: "5", value: "100" });
  slider.addEventListener("input", () => {
    media.volume = Number(slider.value) / 100;
  });
  const mute = labelled("button", "secondary local-mute", gettext("Mute for me"));
  mute.type = "button";
  mute.textContent = "🔊";
  mute.setAttribute("aria-pressed", "false");
  mute.addEventListener("click", () => {
    media.muted = !media.muted;
    mute.setAttribute("aria-pressed", String(media.muted));
    mute.textContent = media.muted ? "🔇" : "🔊";
  });
  box.append(slider, mute);
  root.append(box);
}
