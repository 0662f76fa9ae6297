"""Fetch one mirror's copy of a file, by the mirror's kind (plain HTTP, Google Drive, Hugging Face hub).

A mirror that cannot deliver raises :class:`~hmtir.data.transfer.MirrorFailed` and the caller
(:mod:`hmtir.data.download`) tries the next one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hmtir.data.gdrive import confirmed_url
from hmtir.data.sources import Mirror, hf_endpoint
from hmtir.data.transfer import Advance, MirrorFailed, Transfer, describe, discard, stream_to_part
from hmtir.io.atomic import temp_prefix


def fetch_hf(mirror: Mirror, part: Path, cache: bool, force: bool = False) -> Path:
    """Download through huggingface_hub (auth, redirects, CDN) into ``part`` or the hub cache.

    huggingface_hub checks the received size against the one the hub declares, and resumes only its own
    ``.incomplete`` files, keyed by the file's ETag.
    """
    from huggingface_hub import hf_hub_download

    kwargs = {"repo_type": mirror.repo_type, "revision": mirror.revision, "endpoint": hf_endpoint()}
    try:
        if cache:
            # read at call time (huggingface_hub reads HF_HUB_CACHE only once, at import)
            cache_dir = os.environ.get("HF_HUB_CACHE")
            return Path(
                hf_hub_download(
                    str(mirror.repo), str(mirror.path), cache_dir=cache_dir, force_download=force, **kwargs
                )
            )
        discard(part)
        staging = Path(tempfile.mkdtemp(prefix=temp_prefix(part.name, "hf-"), dir=part.parent))
        try:
            got = Path(hf_hub_download(str(mirror.repo), str(mirror.path), local_dir=staging, **kwargs))
            os.replace(got, part)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return part
    except Exception as err:  # huggingface_hub raises many types; any of them means this mirror failed
        raise MirrorFailed(f"{mirror.location()}: {describe(err)}") from None


def fetch_mirror(mirror: Mirror, part: Path, session, advance: Advance) -> Transfer:  # noqa: ANN001
    """Fetch one mirror's copy into ``part``; return what was declared about it."""
    if mirror.kind == "manual":
        raise MirrorFailed(f"{mirror.url} needs a manual download")
    source_url = mirror.location()
    if mirror.kind == "hf":
        fetch_hf(mirror, part, cache=False)
        return Transfer(source_url, part.stat().st_size)  # size checked by huggingface_hub
    url = confirmed_url(session, source_url) if mirror.kind == "gdrive" else source_url
    return stream_to_part(session, url, part, advance, source_url=source_url)
