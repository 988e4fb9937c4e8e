"""``python -m dummi.cli``: the ``dummi`` command (the training image's build stage runs export-model so)."""

from dummi.cli import main

if __name__ == "__main__":  # not when multiprocessing's spawn imports the parent's main module again
    raise SystemExit(main())
