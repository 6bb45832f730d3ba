"""A bug inside the running TUI ends it, with the traceback in the log and a note saying where."""

from __future__ import annotations

import pytest

from alpha01 import logs
from alpha01.clitext import t

from .conftest import run

SIZE = (150, 40)


def test_a_crash_in_the_tui_is_logged_and_the_owner_told_where(rig):
    path = logs.setup(rig.ctx.paths)
    try:
        async def go():
            with pytest.raises(ZeroDivisionError):
                async with rig.app.run_test(size=SIZE) as pilot:
                    await pilot.pause(0.1)
                    rig.app.call_later(lambda: 1 / 0)
                    await pilot.pause(0.5)
        run(go())
        note = logs.crash_note(rig.app.crashed)  # what run_tui prints after the app ended
    finally:
        logs.shutdown()
        rig.app.stop_engine()
    assert isinstance(rig.app.crashed, ZeroDivisionError)
    text = path.read_text(encoding="utf-8")
    assert "uncaught exception in TUI: ZeroDivisionError" in text
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError" in text
    assert note == t("crash.logged", kind="ZeroDivisionError", path=path)
