"""What a person sees of a search: the live progress (or nothing, with --quiet) and the final summary."""

from search.display.progress import Display, DisplayCallback, RichDisplay, format_seconds, format_values
from search.display.summary import precision_line, weights_line

__all__ = [
    "Display",
    "DisplayCallback",
    "RichDisplay",
    "format_seconds",
    "format_values",
    "precision_line",
    "weights_line",
]
