"""gridlab: the lab's front door: the ``gridlab`` command (``cli``, one glue module per command),
the demo (``demo``) and its HTML report (``report``, whose findings the notebooks reuse).

It imports ``envs``, ``agents`` and ``generative``; nothing imports it.
"""

__version__ = "0.1.0"
