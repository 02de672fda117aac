"""``python -m gridlab``: the ``gridlab`` command."""

from gridlab.cli import entry

if __name__ == "__main__":
    entry()
