"""Commands about requests and their proposals: one module per command."""
