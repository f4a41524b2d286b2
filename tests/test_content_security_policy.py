"""Every page carries a Content-Security-Policy without inline scripts (issue 12)."""

import re
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User
from rooms.models import Room

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def directives(client: Client, path: str) -> dict[str, list[str]]:
    response = client.get(path)
    assert response.status_code == 200, path
    policy = response["Content-Security-Policy"]
    parsed = (part.strip().split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parsed}


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/rooms/standup/", "/admin/login/"])
def test_pages_allow_only_their_own_scripts_and_styles(client: Client, bob: User, room: Room, path: str):
    client.force_login(bob)

    policy = directives(client, path)

    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    every_source = {source for sources in policy.values() for source in sources}
    assert not every_source & {"'unsafe-inline'", "'unsafe-eval'"}
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"], "the signaling socket goes only to this site"


def test_templates_hold_no_inline_script_handler_or_style():
    """The policy would block them; an executable script needs src (json_script data is not run)."""
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert not re.search(r"\sstyle\s*=|<style", text), template
