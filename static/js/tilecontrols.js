// Per-person listening controls on each remote tile: a volume slider and "mute for me".
// Client-only: they change how loud this page plays that person, never what anyone sends.
// Each control names the person ("Volume for Gina"), renamed with the tile (ui.js).

import { gettext, interpolate } from "./i18n.js";

export class TileControls {
  /** Add the controls to one tile; `media` is the element that plays the person's sound. */
  constructor(root, media, name) {
    const box = document.createElement("div");
    box.className = "tile-controls";
    this.slider = document.createElement("input");
    Object.assign(this.slider, { type: "range", min: "0", max: "100", step: "5", value: "100", className: "volume" });
    this.slider.addEventListener("input", () => {
      media.volume = Number(this.slider.value) / 100;
    });
    this.mute = document.createElement("button");
    Object.assign(this.mute, { type: "button", className: "secondary local-mute" });
    this.mute.dataset.icon = "volume-2"; // volume-x while pressed (icons.css)
    this.mute.setAttribute("aria-pressed", "false");
    this.mute.addEventListener("click", () => {
      media.muted = !media.muted;
      this.mute.setAttribute("aria-pressed", String(media.muted));
    });
    this.setName(name);
    box.append(this.slider, this.mute);
    root.append(box);
  }

  setName(name) {
    this.slider.setAttribute("aria-label", interpolate(gettext("Volume for %(name)s"), { name }));
    this.mute.setAttribute("aria-label", interpolate(gettext("Mute %(name)s for me"), { name }));
  }
}
