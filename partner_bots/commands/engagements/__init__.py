"""Commands about engagements: one module per command."""
