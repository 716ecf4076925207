"""The ``privemo`` command: a thin typer shell over the Python API."""
