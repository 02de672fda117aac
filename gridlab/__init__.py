"""gridlab: the lab's front door (the ``gridlab`` command and its glue). Nothing imports this package."""

__version__ = "0.1.0"
