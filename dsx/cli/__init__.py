"""The ``dsx`` command line: the composition root that knows every part."""
