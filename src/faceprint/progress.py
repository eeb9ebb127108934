"""Progress reporting for long calls: a bar on stderr (stdout carries JSON), or the caller's callable."""

from __future__ import annotations

from typing import Callable


def progress_callbacks(progress: bool | Callable[[int], None] | None, total: int,
                       description: str = "working") -> tuple[Callable[[int], None], Callable[[], None]]:
    """Progress reporting for ``total`` items, as the caller asked for it.

    Args:
        progress: True draws a transient rich bar on stderr; a callable is given each count done;
            anything else does nothing.
        total: how many items the bar counts to.
        description: the bar's label.

    Returns:
        ``(tick, finish)``: call ``tick(n)`` as n more items are done, and ``finish()`` when done
        (in a ``finally``).
    """
    if progress is True:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                       console=Console(stderr=True), transient=True)
        bar.start()
        task = bar.add_task(description, total=total)
        return (lambda n: bar.advance(task, n)), bar.stop
    if callable(progress):
        return progress, lambda: None
    return (lambda n: None), lambda: None
