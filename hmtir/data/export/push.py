"""Push an exported folder to a Hugging Face dataset repo, every failure one line naming the repo."""

from __future__ import annotations

import os
from pathlib import Path

from hmtir.errors import HmtirError

_NETWORK_PACKAGES = {"httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3"}


def hub_token(repo: str, token: str | None = None) -> str:
    """Check ``repo`` is a valid Hub id and find a token (``token``, ``$HF_TOKEN``, ``hf auth login``)."""
    from huggingface_hub import get_token
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo)
    except ValueError as err:
        raise HmtirError(f"cannot push to '{repo}': not a Hub repo id ({str(err).splitlines()[0]})") from None
    if "/" not in repo:
        raise HmtirError(f"cannot push to '{repo}': name the owner too (OWNER/NAME)")
    found = token or get_token()
    if not found:
        raise HmtirError(
            f"cannot push to Hugging Face dataset {repo}: no token (set HF_TOKEN or run `hf auth login`)"
        )
    return found


def push_hf(
    folder: str | os.PathLike[str],
    repo: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload HM-TIR export (hmtir export --format hf)",
) -> str:
    """Upload an exported folder to the dataset repo ``repo`` (created if needed); returns its URL.

    The endpoint is ``$HMTIR_HF_ENDPOINT``, else ``$HF_ENDPOINT``, else huggingface.co. Any failure is one
    line naming the repo, and says how to retry the upload of the (complete) folder.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from hmtir.data.sources import hf_endpoint

    folder = Path(folder)
    token = hub_token(repo, token)
    api = HfApi(endpoint=hf_endpoint(), token=token)
    retry = f"the export {folder} is complete: retry with `hf upload {repo} {folder} --repo-type dataset`"
    try:
        url = api.create_repo(repo, repo_type="dataset", exist_ok=True, private=private)
        api.upload_folder(
            repo_id=repo, repo_type="dataset", folder_path=folder, commit_message=commit_message
        )
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        detail = " ".join((err.server_message or str(err)).split())[:200]
        hint = {401: " (the token was refused)", 403: " (no write access)"}.get(status, "")
        raise HmtirError(
            f"push to Hugging Face dataset {repo} failed: HTTP {status}{hint}: {detail}; {retry}"
        ) from None
    except Exception as err:  # network, invalid card metadata, disk; anything else is a bug: raised
        if not isinstance(err, (OSError, ValueError)) and not _is_network_error(err):
            raise
        detail = " ".join(str(err).split())[:200] or type(err).__name__
        raise HmtirError(
            f"push to Hugging Face dataset {repo} failed: {type(err).__name__}: {detail}; {retry}"
        ) from None
    return str(url)


def _is_network_error(err: BaseException) -> bool:
    """Raised by the HTTP stack under huggingface_hub (requests, httpx or httpx2, by version)."""
    return any(cls.__module__.split(".")[0] in _NETWORK_PACKAGES for cls in type(err).__mro__)
