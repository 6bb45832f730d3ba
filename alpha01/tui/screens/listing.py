"""What the list screens (handoff queue, unanswered inbox, jobs) have in common: a title, a
table of rows keyed by their database id, the selection kept across refreshes, Esc to go back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label


class ListScreen(Screen[None]):
    #: the section title, the table's id and its columns: (label, key, width)
    HEADING = ""
    TABLE_ID = "rows"
    COLUMNS: tuple[tuple[str, str, int], ...] = ()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(self.HEADING, classes="section-title")
        yield DataTable(id=self.TABLE_ID, cursor_type="row", zebra_stripes=True)
        yield from self.compose_below()
        yield Footer()

    def compose_below(self) -> ComposeResult:
        """Widgets under the table (a form, …); none by default."""
        yield from ()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key, width in self.COLUMNS:
            table.add_column(label, key=key, width=width)
        self._rows: dict[int, dict] = {}
        table.focus()
        self.ready = True
        self.refresh_data()

    def refresh_data(self, status_only: bool = False) -> None:
        """Reload the rows from the database (the app calls this when something changed),
        keeping the highlighted row highlighted."""
        bridge = self.app.bridge
        if bridge is None or status_only:
            return
        table = self.query_one(DataTable)
        keep = self.selected()
        table.clear()
        self._rows = {}
        for r in self.fetch(bridge.reader):
            table.add_row(*self.cells(r), key=str(r["id"]))
            self._rows[r["id"]] = dict(r)
        self.reselect(keep)

    def fetch(self, reader: Any) -> Iterable[Any]:
        """The rows to show (each with an "id"), from the TUI's read-only Store."""
        return ()

    def cells(self, row: Any) -> tuple[Any, ...]:
        """One row's cells, in COLUMNS order."""
        return ()

    def selected(self) -> int | None:
        """The database id of the highlighted row."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return int(key.value) if key.value is not None else None

    def reselect(self, row_id: int | None) -> None:
        """Put the cursor back on `row_id` after a reload, if it is still there."""
        table = self.query_one(DataTable)
        if row_id is not None and str(row_id) in table.rows:
            table.move_cursor(row=table.get_row_index(str(row_id)), animate=False)

    def action_back(self) -> None:
        self.app.pop_screen()
