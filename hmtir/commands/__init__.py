"""click commands, one module each; imported only when that command runs (see ``cli.COMMANDS``)."""
