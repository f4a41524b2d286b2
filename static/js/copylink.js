// "Copy link" on the pre-join screen: the room's address, to paste to someone. Where the
// clipboard is not available (an insecure origin), the address is shown selected instead.

import { gettext } from "./i18n.js";

export function offerCopyLink(button, status, address = `${window.location.origin}${window.location.pathname}`) {
  if (!button) return;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(address);
      status.textContent = gettext("Link copied: paste it to whoever should join.");
    } catch {
      status.textContent = "";
      const field = document.createElement("input");
      field.readOnly = true;
      field.value = address;
      field.setAttribute("aria-label", gettext("Room link"));
      status.append(`${gettext("Copy this link:")} `, field);
      field.select();
    }
  });
}
