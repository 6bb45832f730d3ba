"""The chat page in a real browser: Debian's chromium, headless, driven by Playwright.

Playwright's own browser downloads are never used: `executable_path` points at /usr/bin/chromium
(installed by scripts/test-deps). Skips when either is missing.
"""

from __future__ import annotations

import shutil

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
XSS = '<img src=x onerror="window.__pwned=1;alert(1)"><script>window.__pwned=2</script>'

pytestmark = pytest.mark.skipif(not shutil.which("chromium"),
                                reason="chromium not installed (scripts/test-deps)")


@pytest.fixture
def browser_page(tmp_path):
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=ARGS, locale="zh-CN", viewport={"width": 390, "height": 780},
            timeout=30_000)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            context.close()


def _bubbles(page, role: str) -> list[str]:
    return page.locator(f"#log .msg.{role} .bubble").all_inner_texts()


def test_ask_the_demo_shop_see_the_answer_xss_is_text_history_survives_reload(
        make_web, browser_page):
    rig = make_web(web={"access_token": "browser-token-0123456789"})
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{rig.url}/?t=browser-token-0123456789")
    sync_api.expect(page.locator("#shop")).to_have_text("果然鲜水果铺")
    assert "t=" not in page.url  # the token leaves the address bar once the session is open

    page.fill("#text", "你们几点开门？")
    page.keyboard.press("Enter")
    shop = page.locator("#log .msg.shop .bubble")
    sync_api.expect(shop).to_have_count(1)
    sync_api.expect(shop.first).to_contain_text("8:30")

    page.fill("#text", XSS)
    page.click("#send")
    sync_api.expect(shop).to_have_count(2)
    mine = page.locator("#log .msg.customer .bubble")
    sync_api.expect(mine.nth(1)).to_have_text(XSS)
    assert page.locator("#log img, #log script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []

    before = (_bubbles(page, "customer"), _bubbles(page, "shop"))
    page.reload()
    sync_api.expect(page.locator("#log .msg")).to_have_count(4)
    assert (_bubbles(page, "customer"), _bubbles(page, "shop")) == before
    assert before[0] == ["你们几点开门？", XSS]
    assert page.locator("#log img, #log script").count() == 0
    assert page.evaluate("window.__pwned") is None and dialogs == [] and errors == []

    # The merchant's reply from the TUI reaches the open page.
    cid = rig.rows("SELECT id FROM customers WHERE channel = 'web'")[0]["id"]
    rig.engine.submit(rig.engine.manual_reply, cid, "店主：欢迎随时来店里看看！").result(5)
    sync_api.expect(shop.last).to_have_text("店主：欢迎随时来店里看看！")


def test_without_the_token_the_page_does_not_open(make_web, browser_page):
    rig = make_web(web={"access_token": "browser-token-0123456789"})
    resp = browser_page.goto(f"{rig.url}/")
    assert resp is not None and resp.status == 403
    assert "二维码" in browser_page.content()
