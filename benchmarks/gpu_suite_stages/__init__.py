"""The GPU suite's sections, one module each (``gpu_suite.py`` is the entry point that runs them in order)."""
