// A button that shows or hides a small panel of controls: the toolbar's "More" on a phone, each
// person's actions in the participant list. The disclosure pattern (aria-expanded on the button,
// the panel next in the tab order), not an ARIA menu: the panel holds ordinary buttons.
//
// Escape, or a click or tap outside, closes it. Choosing a button in it closes it too, except one
// that opens a dialog (aria-haspopup="dialog": Remove asks first), so that focus comes back to it
// when the dialog closes. While a dialog is open, the dialog has Escape and the clicks; while a
// <details> in the panel is open (Devices), Escape closes that first.

export class DisclosureMenu {
  #stop = new AbortController();

  /** `button` toggles `panel`; the panel is shown by CSS while it has the class "open". */
  constructor(button, panel) {
    this.button = button;
    this.panel = panel;
    const signal = this.#stop.signal;
    this.setOpen(false);
    button.addEventListener("click", () => this.setOpen(!this.open), { signal });
    panel.addEventListener("click", (event) => this.#chosen(event.target), { signal });
    document.addEventListener("keydown", (event) => this.#escape(event), { signal });
    document.addEventListener("pointerdown", (event) => this.#outside(event.target), { signal });
  }

  get open() {
    return this.button.getAttribute("aria-expanded") === "true";
  }

  setOpen(open, { focus = false } = {}) {
    this.button.setAttribute("aria-expanded", String(open));
    this.panel.classList.toggle("open", open);
    if (focus) this.button.focus();
  }

  #chosen(target) {
    const control = target.closest("button");
    if (this.open && control && !control.hasAttribute("aria-haspopup")) this.setOpen(false, { focus: true });
  }

  #escape(event) {
    if (event.key !== "Escape" || !this.#live() || !this.open || document.querySelector("dialog[open]")) return;
    if (this.panel.querySelector("details[open]")) return; // that one closes first (keyboard.js)
    this.setOpen(false, { focus: this.panel.contains(document.activeElement) });
  }

  #outside(target) {
    if (!this.#live() || !this.open || this.button.contains(target) || this.panel.contains(target)) return;
    if (target.closest?.("dialog")) return;
    this.setOpen(false);
  }

  // A person's menu goes with their list item: once that is gone, stop listening to the page.
  #live() {
    if (this.button.isConnected) return true;
    this.#stop.abort();
    return false;
  }
}
