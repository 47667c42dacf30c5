"""Removal of server paths from messages that clients see.

Library errors name files by their absolute path, such as the registry folder
in "model not found" or an upload's folder in a failed job. Clients get the
message with each known folder replaced by a label (`<registry>`, `<data>`,
`<uploads>`, `<job store>`) and any other absolute path cut to `<path>/` and
its last component. The service log keeps the full message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

# An absolute POSIX path of at least two components that does not start inside a word, URL or label. Paths
# under /v1/ are the service's own routes, which messages name as hints.
# NOTE: a path with a space in a component is cut only up to the space.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/>-])/(?!v1/)[\w.@+~-]+(?:/[\w.@+~-]+)+/?")


def settings_roots(settings) -> dict[str, Path]:
    """Return the service folders of `settings` that messages may name, by the label that replaces each."""
    return {
        "<registry>": settings.registry_dir,
        "<data>": settings.data_dir,
        "<uploads>": settings.uploads_dir,
        "<job store>": settings.job_database,
    }


def redact_paths(message: str, roots: Mapping[str, Path | str | None]) -> str:
    """Return `message` with each root in `roots` replaced by its label and other absolute paths shortened."""
    forms: dict[str, str] = {}
    for label, root in roots.items():
        if root is None:
            continue
        # Relative roots such as the default `models` are matched only in their absolute forms, so that an
        # ordinary word in a message is left alone.
        for form in (str(Path(root).absolute()), str(Path(root).resolve())):
            if form != "/":
                forms.setdefault(form, label)

    # Longer roots first, so that a folder inside another (uploads inside the registry) gets its own label.
    for form in sorted(forms, key=len, reverse=True):
        message = re.sub(re.escape(form) + r"(?!\.?[\w@+~-])", lambda _match, label=forms[form]: label, message)

    return _ABSOLUTE_PATH.sub(_shorten, message)


def _shorten(match: re.Match) -> str:
    return "<path>/" + match.group(0).rstrip("/").rsplit("/", 1)[-1]
