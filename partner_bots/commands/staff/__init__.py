"""Commands for the staff room only: one module per command."""
