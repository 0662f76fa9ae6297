"""An example hmtir plugin (see README.md): entries are declared in pyproject.toml, not imported here."""
