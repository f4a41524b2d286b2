// Asking before what cannot be undone (remove, bar, end the meeting): the page's one
// <dialog id="confirm-dialog">, opened modal, so focus stays in it and Escape cancels.
// Names come from other people: they are only ever set with textContent.

/**
 * Ask; resolves to null when cancelled (Cancel, Escape), else {option} where `option` is
 * whether the extra checkbox was ticked (`option` given: its label; otherwise it is hidden).
 */
export function askToConfirm(dialog, { title, text, action, option = "" }) {
  const form = dialog.querySelector("form");
  const check = dialog.querySelector("#confirm-option");
  dialog.querySelector("#confirm-title").textContent = title;
  dialog.querySelector("#confirm-text").textContent = text;
  dialog.querySelector("#confirm-action").textContent = action;
  dialog.querySelector("#confirm-option-label").textContent = option;
  dialog.querySelector(".confirm-option").hidden = !option;
  check.checked = false;
  form.reset();
  return new Promise((resolve) => {
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "confirm" ? { option: Boolean(option) && check.checked } : null),
      { once: true },
    );
    dialog.showModal();
    dialog.querySelector("#confirm-cancel").focus(); // the safe choice is the default one
  });
}
