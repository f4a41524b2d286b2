"""Fail if any string shown to people lacks its translation (`make lint`, and so CI).

For each language in locale/ and each domain (django: Python and templates; djangojs: static/js):
1. `makemessages` brings the .po up to date with the code. If only its POT-Creation-Date changed,
   the file is put back as it was, so a clean tree stays clean; new strings stay in it, to translate.
2. `msgfmt --check` must find every entry translated, none fuzzy, and the placeholders matching.
3. The committed .mo must hold what the .po says (`make translations` compiles them).

Needs GNU gettext (scripts/install-deploy-tools.sh installs it). README, "Languages".
"""

import gettext
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("django", "djangojs")
# Not the app's own strings: collected static files, benchmarks, tests, deployment files.
IGNORED = ("staticfiles", "bench", "tests", "*/tests/*", "deploy", "docs", "media")
_STATISTICS = re.compile(r"(\d+) (fuzzy|untranslated)")


def languages() -> list[str]:
    return sorted(path.name for path in (ROOT / "locale").iterdir() if (path / "LC_MESSAGES").is_dir())


def update_catalog(language: str, domain: str) -> Path:
    """Run makemessages for one catalog; undo a change that is only its creation date."""
    po = ROOT / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
    before = po.read_bytes() if po.exists() else b""
    command = [sys.executable, "manage.py", "makemessages", "-l", language, "-d", domain, "--no-obsolete", "-v", "0"]
    command += [f"--ignore={pattern}" for pattern in IGNORED]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "audioexchange.settings_test"}
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603
    if _without_creation_date(po.read_bytes()) == _without_creation_date(before):
        po.write_bytes(before)
    return po


def _without_creation_date(text: bytes) -> bytes:
    return re.sub(rb'"POT-Creation-Date: [^"]*"', b"", text)


def problems(po: Path) -> list[str]:
    """What keeps `po` from being complete: its untranslated or fuzzy entries, bad placeholders,
    or a committed .mo that says something else."""
    if re.search(r'^#, fuzzy\nmsgid ""\nmsgstr ""', po.read_text(), re.MULTILINE):
        return ["its header is fuzzy: fill it in (Language, Plural-Forms) and remove the `#, fuzzy` line"]
    with tempfile.TemporaryDirectory() as scratch:
        compiled = Path(scratch) / "check.mo"
        result = subprocess.run(  # noqa: S603
            ["msgfmt", "--check", "--statistics", "-o", str(compiled), str(po)],  # noqa: S607
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            return [result.stderr.strip()]
        found = [f"{count} {kind}" for count, kind in _STATISTICS.findall(result.stderr) if int(count)]
        if found:
            return [f"{', '.join(found)} (msgstr empty or fuzzy):", _incomplete_entries(po)]
        if _catalog(compiled) != _catalog(po.with_suffix(".mo")):
            return [f"{po.with_suffix('.mo').relative_to(ROOT)} is not the compiled .po: run `make translations`"]
    return []


def _incomplete_entries(po: Path) -> str:
    """The untranslated entries, then the fuzzy ones, as msgattrib prints them."""
    listings = (
        subprocess.run(  # noqa: S603
            ["msgattrib", selection, "--no-obsolete", str(po)],  # noqa: S607
            capture_output=True,
            text=True,
        ).stdout
        for selection in ("--untranslated", "--only-fuzzy")
    )
    return "\n".join(listing for listing in listings if listing)


def _catalog(mo: Path) -> dict[object, str]:
    if not mo.exists():
        return {}
    with mo.open("rb") as file:
        return dict(gettext.GNUTranslations(file)._catalog)  # type: ignore[attr-defined]


def main() -> int:
    failed = False
    for language in languages():
        for domain in DOMAINS:
            po = update_catalog(language, domain)
            if found := problems(po):
                failed = True
                print(f"{po.relative_to(ROOT)}: {found[0]}", *found[1:], sep="\n", file=sys.stderr)
    if failed:
        print("Translate the strings above (README, “Languages”), then run `make translations`.", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
