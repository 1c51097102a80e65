"""The Matrix side: bot sessions, E2EE, sync, commands, rendering and outbox delivery."""
