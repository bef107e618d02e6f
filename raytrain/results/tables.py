"""A rich table that fits its width by leaving out whole columns, never by cutting values.

Rich shrinks every column of a table that is too wide and cuts each value to `0.0…`, so in
an 80-column terminal (and in a pipe, where rich assumes 80) a trial table showed no
number at all. `FittedTable` decides at render time, for the width it is given: first a
lighter frame, then it leaves out the least useful columns one by one (each `Column` says
how soon it may go), folding a column's text below the table where it asks for that, and
says in the caption which columns it left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text


@dataclass
class Column:
    """One column: header and one cell per row. `drop` ranks how soon the column may be
    left out when space is short (lower goes first; None: never). `fold` prints its
    non-empty cells below the table instead, keyed by the row, once it is left out."""

    header: str
    cells: Sequence[str | Text]
    justify: str = "right"
    drop: int | None = None
    fold: bool = False
    short_header: str | None = None  # used once the table is compact
    max_width: int | None = None  # free text (errors): may be cut, it is not a value
    min_width: int | None = None
    names: str | None = None  # what the caption calls it when left out (default: header)


@dataclass
class FittedTable:
    columns: list[Column]
    row_keys: Sequence[str]
    title: str | None = None
    caption: str | None = None
    row_styles: Sequence[str] = field(default_factory=list)

    def layouts(self) -> Iterator[tuple[Table, list[Column]]]:
        """Tables from the fullest to the narrowest, each with the columns it left out."""
        yield self._table(self.columns, compact=False), []
        droppable = sorted(
            (c for c in self.columns if c.drop is not None), key=lambda c: c.drop or 0
        )
        for n in range(len(droppable) + 1):
            gone = droppable[:n]
            kept = [c for c in self.columns if not any(c is g for g in gone)]
            yield self._table(kept, compact=True), gone

    def _table(self, columns: list[Column], *, compact: bool) -> Table:
        table = Table(
            title=self.title,
            title_justify="left",
            box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD,
            show_edge=not compact,
            collapse_padding=compact,
        )
        for c in columns:
            cut = c.max_width is not None
            table.add_column(
                (c.short_header or c.header) if compact else c.header,
                justify=c.justify,  # type: ignore[arg-type]
                no_wrap=not cut,
                overflow="ellipsis" if cut else "fold",
                max_width=c.max_width,
                min_width=c.min_width,
            )
        for i in range(len(self.row_keys)):
            style = self.row_styles[i] if i < len(self.row_styles) else ""
            table.add_row(*(c.cells[i] for c in columns), style=style)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        unbounded = options.update(width=1 << 16)  # Measurement.get clamps to the width
        for table, gone in self.layouts():  # noqa: B007 (the last one tried is used)
            if Measurement.get(console, unbounded, table).maximum <= width:
                break
        notes = [c.names or c.header for c in gone if not c.fold]
        caption = [self.caption] if self.caption else []
        if notes:
            caption.append("not shown (too narrow): " + ", ".join(notes))
        if caption:
            table.caption = "; ".join(caption)
            table.caption_justify = "left"
        parts: list[RenderableType] = [table]
        for c in gone:
            if c.fold:
                for key, cell in zip(self.row_keys, c.cells, strict=True):
                    if str(cell):
                        parts.append(Text.assemble(f"{key} {c.header}: ", cell))
        yield Group(*parts)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        full = Measurement.get(console, options, self._table(self.columns, compact=False))
        *_, (narrowest, _) = self.layouts()
        return Measurement(Measurement.get(console, options, narrowest).minimum, full.maximum)
