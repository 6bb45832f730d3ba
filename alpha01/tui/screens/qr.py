"""Store QR: mint a store QR code through the sync server, show it as blocks, save a PNG."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


def qr_blocks(matrix: Any, border: int = 2) -> str:
    """A QR matrix as half-block characters: two modules per character cell, height-square."""
    rows = [list(r) for r in matrix]
    size = len(rows[0]) if rows else 0
    pad = [[0] * (size + 2 * border) for _ in range(border)]
    grid = pad + [[0] * border + [1 if v else 0 for v in r] + [0] * border for r in rows] + pad
    if len(grid) % 2:
        grid.append([0] * (size + 2 * border))
    chars = {(1, 1): "█", (1, 0): "▀", (0, 1): "▄", (0, 0): " "}  # drawn black on white
    return "\n".join("".join(chars[(top, bottom)] for top, bottom in zip(upper, lower,
                                                                         strict=True))
                     for upper, lower in zip(grid[::2], grid[1::2], strict=True))


class QRScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "返回"), Binding("m", "mint", "生成二维码")]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(id="qr-info")
            with Center():
                yield Static(id="qr-code")
        yield Footer()

    def on_mount(self) -> None:
        s = self.app.ctx.settings.sync
        if not (s.server and s.device_id and s.device_secret):
            self.query_one("#qr-info", Static).update(Text(
                "同步未配置：这台电脑还没有登记到同步服务器，无法生成店铺二维码。\n"
                "登记方法：alpha01 sync enroll --server 服务器地址 --code 登记码", style="yellow"))
            return
        self.query_one("#qr-info", Static).update(f"同步服务器 {s.server} · 设备 {s.device_id}"
                                                  "\n按 m 生成店铺二维码")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "mint":
            return bool(self.app.ctx.settings.sync.device_id)
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_mint(self) -> None:
        self.query_one("#qr-info", Static).update("正在向同步服务器申请…")
        self._mint()

    @work(thread=True, exclusive=True, group="qr")
    def _mint(self) -> None:
        import segno

        from ...sync import SyncClient, SyncError

        s = self.app.ctx.settings.sync
        try:
            with SyncClient(s.server, s.device_id, s.device_secret) as client:
                minted = client.mint("tui")
        except SyncError as exc:
            self.app.call_from_thread(self.query_one("#qr-info", Static).update,
                                      Text(f"生成失败：{exc}", style="red"))
            return
        code = segno.make(minted.url, error="m")
        png = self.app.ctx.paths.home / "store-qr.png"
        code.save(str(png), scale=10, border=4)
        blocks = qr_blocks(code.matrix)
        info = f"{minted.url}\n已保存 PNG：{png}"
        self.app.call_from_thread(self._show, blocks, info)

    def _show(self, blocks: str, info: str) -> None:
        self.query_one("#qr-code", Static).update(Text(blocks, style="black on white"))
        self.query_one("#qr-info", Static).update(info)
