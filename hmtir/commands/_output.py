"""The click type of every option naming a folder a command writes into (``--out``, ``download --dir``).

The output-folder rule itself is :func:`hmtir.io.safety.check_output_folder`, applied by the library
functions the commands call, so notebooks get it too. Only the empty string must be caught here, while
it is still a string: click turns ``--out ""`` into ``Path("")``, which is ``Path(".")``, the current folder.
"""

from __future__ import annotations

from typing import Any

import click

from hmtir.io.safety import check_output_folder


class OutFolder(click.Path):
    """``click.Path`` that refuses an empty value in the library's words (one ``Error:`` line, exit 1)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:  # noqa: ANN401 - click's signature
        if isinstance(value, str) and not value:
            check_output_folder(value, option=param.opts[0] if param is not None and param.opts else "--out")
        return super().convert(value, param, ctx)


OVERWRITE_HELP = "Write into a non-empty folder that hmtir did not create (never the file-system root)."
