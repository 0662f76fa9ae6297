"""``example-unsharp``: an unsharp mask written as a one-layer torch network with fixed weights.

The factory returns a plain ``torch.nn.Module``; hmtir wraps it in its restore contract (input and output
checks, ``B×1×H×W`` in [0, 1]). Its ``forward`` takes no prompts, so hmtir passes none.
"""

from __future__ import annotations

from typing import Any


def unsharp(amount: float = 0.6) -> Any:
    """A fixed 3×3 unsharp mask: ``x + amount * (x - box_blur(x))``, replicate-padded."""
    import torch

    class UnsharpMask(torch.nn.Module):
        """Unsharp mask with a fixed 3x3 kernel (an example hmtir plugin method)."""

        def __init__(self, amount: float) -> None:
            super().__init__()
            kernel = -amount * torch.full((1, 1, 3, 3), 1.0 / 9.0)
            kernel[0, 0, 1, 1] += 1.0 + amount
            self.conv = torch.nn.Conv2d(1, 1, 3, bias=False)
            with torch.no_grad():
                self.conv.weight.copy_(kernel)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
            return self.conv(padded).clamp(0.0, 1.0)

    return UnsharpMask(float(amount))
