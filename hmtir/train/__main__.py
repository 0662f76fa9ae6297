"""``python -m hmtir.train ...`` / ``torchrun --nproc_per_node N -m hmtir.train ...`` = ``hmtir train ...``."""

from hmtir.commands.train import main

if __name__ == "__main__":
    main()
