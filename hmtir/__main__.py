"""``python -m hmtir`` (and ``torchrun ... -m hmtir evaluate ...``): the same command as ``hmtir``."""

from hmtir.cli import main

if __name__ == "__main__":
    main()
