"""Registry lookups ignore case in both directions: a mixed-case entry answers to any spelling of it."""

from __future__ import annotations

import pytest

from hmtir.errors import HmtirError
from hmtir.registry import EntryMeta, Registry, resolve_name


def test_a_mixed_case_entry_answers_to_any_spelling_of_its_name() -> None:
    reg: Registry[EntryMeta] = Registry("widget")
    for name in ("DA-Clip", "psnr"):
        reg.register(name)(dict)
    for spelling in ("DA-Clip", "da-clip", "DA-CLIP", "dA-cLIP"):
        assert reg.canonical(spelling) == "DA-Clip"
    assert reg.meta("Psnr").name == "psnr"
    assert resolve_name("widget", "ÉCLAIR", ["éclair", "psnr"]) == "éclair"  # Unicode case folding
    assert resolve_name("widget", "STRASSE", ["Straße"]) == "Straße"  # casefold, not lower: ß folds to ss


def test_a_spelling_two_entries_share_ignoring_case_is_refused_with_both_named() -> None:
    with pytest.raises(HmtirError) as err:
        resolve_name("widget", "nima", ["NIMA", "Nima", "psnr"])
    assert (
        str(err.value) == "unknown widget 'nima' (did you mean 'NIMA' or 'Nima'? available: NIMA, Nima, psnr)"
    )
