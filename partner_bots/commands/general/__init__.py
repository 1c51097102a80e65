"""Commands for everyone: one module per command."""
