"""The first-run setup screen, driven by keys a terminal can actually send."""

from __future__ import annotations

from textual.widgets import Input, Static

from alpha01.tui.screens.setup import SetupScreen

from .conftest import make_rig, run, wait_for

# A terminal sends the same byte for Ctrl+I as for Tab (and Ctrl+M as Enter, Ctrl+[ as Esc).
UNSENDABLE = {"ctrl+i": "tab", "ctrl+m": "enter", "ctrl+[": "escape"}


def test_the_setup_screen_imports_with_a_key_a_terminal_can_send(tmp_path):
    rig = make_rig(tmp_path / "shop")
    rig.ctx.settings = rig.ctx.settings.with_overrides(knowledge={"embedder": "hash"})
    shop = tmp_path / "docs"
    shop.mkdir()
    (shop / "faq.csv").write_text("问题,答案\n几点开门,早上九点开门。\n", encoding="utf-8")
    keys = {b.key for b in SetupScreen.BINDINGS}
    assert not keys & set(UNSENDABLE), keys & set(UNSENDABLE)
    ingest = next(b for b in SetupScreen.BINDINGS if b.action == "ingest")

    async def go():
        async with rig.app.run_test(size=(120, 40)) as pilot:
            screen = SetupScreen()
            await rig.app.push_screen(screen)
            await pilot.pause(0.1)
            screen.query_one("#kb-folder", Input).value = str(shop)
            await pilot.press(ingest.key)
            status = screen.query_one("#ingest-status", Static)
            await wait_for(pilot, lambda: "1 added" in str(status.render()), timeout=30,
                           what="the import")
            label = " ".join(str(w.render()) for w in screen.query("Label"))
            assert f"Ctrl+{ingest.key.split('+')[1].upper()}" in label  # says the real key

    run(go())
