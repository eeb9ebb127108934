"""Command-line interface (Typer). Thin: every command calls the facade or a pipeline stage."""
