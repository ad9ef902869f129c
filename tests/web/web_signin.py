"""Signing a browser page in through the form (a module of its own: test modules import it by
name, which ``conftest`` would not give them when several test folders have one)."""

from __future__ import annotations

from typing import Any

from server_proc import ServerProcess


def sign_in(browser: Any, server: ServerProcess, token: str, **context: Any) -> Any:
    """A new page in a fresh browser context, signed in with ``token`` through the form."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}, **context).new_page()
    page.set_default_timeout(60_000)  # a loaded CI machine is slow to schedule
    page.goto(server.url + "/")
    assert "/signin" in page.url
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/")
    return page
