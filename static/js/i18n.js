// The page's strings in the page's language, from Django's JavaScript catalog: base.html loads
// /jsi18n/ (a classic script, so before these modules run), which defines window.gettext and
// window.ngettext. Without it the strings stay in English. Wrap every string a person sees:
//   gettext("Leave"), interpolate(gettext("Admit %(name)s"), { name }),
//   interpolate(ngettext("%(count)s unread", "%(count)s unread", count), { count })
// (`makemessages -d djangojs` finds gettext and ngettext calls with literal strings; README, "Languages").

const catalog = globalThis;

/** `msgid` in the page's language. */
export function gettext(msgid) {
  return typeof catalog.gettext === "function" ? catalog.gettext(msgid) : msgid;
}

/** `singular` or `plural`, as `count` asks in the page's language. */
export function ngettext(singular, plural, count) {
  if (typeof catalog.ngettext === "function") return catalog.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

/** `format` with each %(name)s replaced by `values[name]` (names come from people: text only). */
export function interpolate(format, values) {
  return format.replace(/%\((\w+)\)s/g, (placeholder, name) => (name in values ? String(values[name]) : placeholder));
}
