"""Commands about members and trust: one module per command."""
