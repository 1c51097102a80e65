"""Local Synapse homeservers for the demo and the tests."""
