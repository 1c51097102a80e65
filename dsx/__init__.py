"""The application: CLI, web adapter, demo and the composition root that wires the core
(``coordinator``) to Matrix (``partner_bots``). Nothing below imports this package; see
docs/architecture.md."""
