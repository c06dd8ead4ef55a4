"""``python -m eoml`` runs the eoml command line (the same as the ``eoml`` script)."""

from eoml.core.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
