"""A/B experiments: who gets which variant (``assignment``), what a variant changes (``overrides``) and
how variants compare (``statistics``). Pure Python: the routes, the serving path and the benchmarks share it."""
