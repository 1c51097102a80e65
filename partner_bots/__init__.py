"""The Matrix side: bot sessions, E2EE, sync, commands, rendering and outbox delivery.

One concern per module:

* ``session``       login/restore, persistent nio store, fixed device id, key check, never logout
* ``cross_signing`` the bot's own master/self-signing/user-signing keys; signs its device
* ``device_trust``  partners' devices: ``tofu`` or ``cross-signed``; identity-change notices
* ``sync``          supervised sync: backoff, Retry-After, gap back-fill, exactly-once hand-over
* ``events``        typed incoming events (messages, reactions, redactions); never notices/own
* ``sending``       notices, threads, replies, edits, encrypted reactions, caller tx ids
* ``undecryptable`` held events, retried on late keys, re-send asked after a grace period
* ``rooms``         registered + encrypted rooms only; joins with via; departures; v12 power
* ``delivery``      the coordinator's outbox, sent with outbox ids as transaction ids
* ``bot``/``runner`` composition of one account, and running it until SIGTERM
"""
