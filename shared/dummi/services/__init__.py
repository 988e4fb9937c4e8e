"""Use cases. Each takes the ``Database`` (and later the artifact store) as an argument."""
