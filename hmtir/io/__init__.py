"""File input/output: grey TIR frames (``image``) and atomic writes (``atomic``).

Importing this package stays cheap: ``hmtir.io.image`` loads OpenCV only when a frame is read or written.
"""

from hmtir.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from hmtir.io.image import Frame, read_image, write_image

__all__ = ["Frame", "atomic_path", "atomic_write_bytes", "atomic_write_text", "read_image", "write_image"]
