"""The gated TIR degradation cascade: presets (data), numpy reference ops, batched torch ops, synthesis.

Import the submodules directly (``hmtir.degrade.ops``, ``.presets``, ``.synthesize``, ``.torch_ops``,
``.kernels``); this package imports nothing so that ``hmtir synthesize`` never loads torch.
"""
