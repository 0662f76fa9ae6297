"""``wfaf``: combined wavelet–Fourier stripe filtering, the HM-TIR paper's "WFAF" destriping baseline.

The paper names WFAF without a reference; we identify it as the wavelet–FFT filter of Münch, Trtik,
Marone and Stampanoni, "Stripe and ring artifact removal with combined wavelet–Fourier filtering",
Optics Express 17(10), 8567–8591, 2009. That identification is an assumption (recorded in the metadata).

Algorithm for column stripes (each column offset/scaled by a constant): a multi-level 2-D DWT puts the
stripes into the vertical-detail band of every level, where they are constant along the band's rows; an
FFT along that axis therefore concentrates them at frequency 0, which a Gaussian notch
``1 - exp(-k^2 / 2 sigma^2)`` removes; inverse FFT and inverse DWT give the destriped frame. Row stripes are
handled by transposing; by default only the frame's dominant stripe orientation is filtered. The parameter
loading, orientation detection and batch loop shared with ``lrsid`` live in :mod:`hmtir.methods.destripe`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hmtir.methods import METHODS
from hmtir.methods.base import Method
from hmtir.methods.destripe import DestripeMethod, classical_params

if TYPE_CHECKING:
    import torch


def notch_column_stripes(image: np.ndarray, wavelet: str, levels: int, sigma: float) -> np.ndarray:
    """Münch et al.'s filter for per-column stripes on a float64 H×W array (see the module docstring)."""
    import pywt

    wavelet_obj = pywt.Wavelet(wavelet)
    levels = max(1, min(levels, pywt.dwt_max_level(min(image.shape), wavelet_obj.dec_len)))
    coeffs = pywt.wavedec2(image, wavelet_obj, level=levels, mode="symmetric")
    filtered: list[Any] = [coeffs[0]]
    for horizontal, vertical, diagonal in coeffs[1:]:
        spectrum = np.fft.rfft(vertical, axis=0)
        k = np.arange(spectrum.shape[0], dtype=np.float64)[:, None]
        spectrum *= 1.0 - np.exp(-(k**2) / (2.0 * sigma**2))
        filtered.append((horizontal, np.fft.irfft(spectrum, n=vertical.shape[0], axis=0), diagonal))
    out = pywt.waverec2(filtered, wavelet_obj, mode="symmetric")
    return out[: image.shape[0], : image.shape[1]]


class WFAF(DestripeMethod):
    """Wavelet–Fourier stripe filter; runs on the CPU with PyWavelets whatever the input's device."""

    def destripe_columns(self, image: torch.Tensor) -> torch.Tensor:
        import torch

        p = self.params
        result = notch_column_stripes(
            image.detach().cpu().double().numpy(), p["wavelet"], p["levels"], p["sigma"]
        )
        return torch.from_numpy(result.astype(np.float32)).to(image.device)


def wfaf(**overrides: Any) -> Method:
    return WFAF(METHODS.meta("wfaf"), classical_params("wfaf", **overrides))
