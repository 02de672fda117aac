r"""Divergences between discrete distributions, with the smoothing each needs stated.

All take arrays of probabilities over the same outcomes (last axis) and return nats.

- :func:`tv`: :math:`\frac12 \sum_x |P(x) - Q(x)|`, in [0, 1]. No smoothing.
- :func:`forward_kl`: :math:`\mathrm{KL}(P \| Q) = \sum_x P \log(P / Q)`, the direction maximum
  likelihood minimises; it is infinite where the model Q misses a true outcome (mode-covering
  pressure). Q is smoothed, :math:`Q_\epsilon = (1 - \epsilon) Q + \epsilon / K`.
- :func:`reverse_kl`: :math:`\mathrm{KL}(Q \| P)`, infinite where the model puts mass the truth does
  not have (mode-seeking pressure). P is smoothed the same way.
- :func:`jsd`: :math:`\frac12 \mathrm{KL}(P \| M) + \frac12 \mathrm{KL}(Q \| M)`, :math:`M = (P + Q)/2`,
  in [0, log 2]; no smoothing needed. The GAN objective at the optimal discriminator.

``epsilon`` defaults to ``SMOOTHING = 1e-3``: a model that misses a true outcome of probability p
pays about :math:`p \log(p K / \epsilon)` instead of infinity.
"""

from __future__ import annotations

import numpy as np

__all__ = ["tv", "forward_kl", "reverse_kl", "jsd", "SMOOTHING"]

SMOOTHING = 1e-3


def _check(P: np.ndarray, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    P, Q = np.asarray(P, dtype=np.float64), np.asarray(Q, dtype=np.float64)
    if P.shape != Q.shape:
        raise ValueError(f"P and Q must have the same shape, got {P.shape} and {Q.shape}")
    return P, Q


def _kl(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(P > 0, P * (np.log(P) - np.log(Q)), 0.0)
    return terms.sum(axis=-1)


def _smooth(Q: np.ndarray, epsilon: float) -> np.ndarray:
    return (1.0 - epsilon) * Q + epsilon / Q.shape[-1]


def tv(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Total variation distance. Example: ``tv([1, 0], [0.5, 0.5])`` is 0.5.

    >>> float(tv([1.0, 0.0], [0.5, 0.5]))
    0.5
    """
    P, Q = _check(P, Q)
    return 0.5 * np.abs(P - Q).sum(axis=-1)


def forward_kl(P: np.ndarray, Q: np.ndarray, epsilon: float = SMOOTHING) -> np.ndarray:
    """KL(P || Q_eps) with the model Q smoothed towards uniform by ``epsilon``.

    >>> round(float(forward_kl([0.5, 0.5], [0.5, 0.5])), 12)
    0.0
    """
    P, Q = _check(P, Q)
    return _kl(P, _smooth(Q, epsilon))


def reverse_kl(P: np.ndarray, Q: np.ndarray, epsilon: float = SMOOTHING) -> np.ndarray:
    """KL(Q || P_eps) with the truth P smoothed towards uniform by ``epsilon``."""
    P, Q = _check(P, Q)
    return _kl(Q, _smooth(P, epsilon))


def jsd(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence in nats (at most log 2).

    >>> round(float(jsd([1.0, 0.0], [0.0, 1.0])), 6) == round(float(np.log(2)), 6)
    True
    """
    P, Q = _check(P, Q)
    M = 0.5 * (P + Q)
    return 0.5 * _kl(P, M) + 0.5 * _kl(Q, M)
