// Keyboard use of the call page: single-key shortcuts (M mute, V camera, H hand, C chat, ?
// this list), Escape closing an open menu (a <details>) or a tooltip shown (WCAG 1.4.13: it
// goes without moving the pointer or the focus), and focus on the toolbar after Join.
// Keys typed into a text field are left alone, as are keys with Ctrl, Alt or Meta held (the
// browser's own shortcuts). Space is push-to-talk's, in audio rooms (pushtotalk.js).

const SHORTCUTS = {
  m: "#mute-button",
  v: "#camera-button",
  h: "#hand-button",
  c: "#chat-button",
};

/** Is this key going into a text field (the chat), where it is text, not a command? */
export function typing(target) {
  return Boolean(target?.closest?.("textarea, select, [contenteditable], input:not([type=checkbox]):not([type=range])"));
}

function visible(element) {
  return element && !element.hidden && !element.disabled && element.getClientRects().length > 0;
}

/** Listen for the call's shortcuts while `active()` (in the call, not before or after). */
export function bindShortcuts({ root, helpDialog, helpButton, active }) {
  helpButton?.addEventListener("click", () => helpDialog.showModal());
  window.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      closeMenus(root);
      dismissTooltips(root);
    }
    if (!active() || event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return; // a question is being asked
    if (event.key === "?") {
      event.preventDefault();
      helpDialog.showModal();
      return;
    }
    const target = root.querySelector(SHORTCUTS[event.key.toLowerCase()] ?? ":not(*)");
    if (visible(target) && !event.repeat) {
      event.preventDefault();
      target.click();
    }
  });
}

/** Escape: hide the tooltips shown (a tile's path badge), until the pointer or focus leaves. */
function dismissTooltips(root) {
  for (const anchor of root.querySelectorAll("[aria-describedby]:is(:hover, :focus)")) {
    anchor.classList.add("tip-dismissed");
    const shownAgain = () => anchor.classList.remove("tip-dismissed");
    anchor.addEventListener("mouseleave", shownAgain, { once: true });
    anchor.addEventListener("blur", shownAgain, { once: true });
  }
}

/** Escape: close open menus, and put focus back on the one that held it. */
function closeMenus(root) {
  for (const menu of root.querySelectorAll("details[open]")) {
    const hadFocus = menu.contains(document.activeElement);
    menu.open = false;
    if (hadFocus) menu.querySelector("summary")?.focus();
  }
}
