"""Helpers shared by the browser tests."""

from __future__ import annotations

import base64
import hmac
import struct
import time

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, ConsoleMessage, Page


def serious_violations(page: Page) -> list[str]:
    """axe-core violations of impact serious or critical on the current page."""
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def totp_code(secret: str, at: float | None = None) -> str:
    """The current RFC 6238 code (SHA-1, 6 digits, 30 s) for a base32 secret."""
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", counter), "sha1").digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def enter_totp(page: Page, secret: str) -> None:
    """Answer allauth.mfa's login stage with a real TOTP code."""
    page.fill("input[name=code]", totp_code(secret))
    page.press("input[name=code]", "Enter")  # the stage page also has a « cancel » button


# Records every Content-Security-Policy violation of a page into the Python side (an exposed
# binding survives navigations, unlike a window variable). Init scripts run in the page's main
# world before its own scripts and are not subject to its CSP.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__csp = window.__csp || [];
  var line = event.effectiveDirective + " blocked " + (event.blockedURI || "inline") +
    " at " + event.sourceFile + ":" + event.lineNumber + " (" + document.location.pathname + ")";
  window.__csp.push(line);
  window.__cspViolation(line);
});
"""


def watch_csp(context: BrowserContext, problems: list[str]) -> None:
    """Append to ``problems`` every CSP violation (``securitypolicyviolation`` event) and every
    console message about the Content Security Policy, in any page of ``context``."""
    context.expose_function("__cspViolation", lambda line: problems.append(f"violation: {line}"))
    context.add_init_script(_CSP_LISTENER)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            problems.append(
                f"console {message.type}: {message.text} ({message.page and message.page.url})"
            )

    context.on("console", on_console)
