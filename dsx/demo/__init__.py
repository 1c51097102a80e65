"""`dsx up`: the one-command demo on embedded defaults.

* ``network``    the demo trust network, seeded from a slice of the real Advogato graph
* ``actors``     scripted Matrix E2EE clients (partner members, staff, providers)
* ``stack``      two federating homeservers, accounts, rooms and the demo configuration
* ``transcript`` numbered milestones, printed as the scenario reaches them
* ``scenario``   the scripted walk from a request to the purge of the organization's data
* ``up``         orchestration: start everything, play the scenario, stop everything
"""
