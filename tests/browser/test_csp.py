"""The Content-Security-Policy in a real browser: the watcher every browser test uses
(tests/browser/conftest.py) does see a violation, and the pages emit the headers."""

from __future__ import annotations

import pytest

from tests.browser.helpers import watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_watcher_sees_an_inline_script_blocked_by_the_policy(live_server, browser):
    problems: list[str] = []
    # The class's method: the autouse watcher (conftest) must not see this test's violation.
    context = type(browser).new_context(browser)
    watch_csp(context, problems)
    page = context.new_page()
    response = page.goto(live_server.url + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # An injected inline script and an inline handler: both refused by Chromium.
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__ran = true";
          document.body.appendChild(script);
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__ran") is None
    assert any("script-src" in line for line in problems if line.startswith("violation")), problems
    assert page.evaluate("window.__csp.length") >= 1
    context.close()
