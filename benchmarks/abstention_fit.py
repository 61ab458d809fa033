"""Fitting `ask`'s abstention model: an L2-penalised logistic regression over the signals of
bot/abstain.py, and the rules that choose its threshold. Shared by benchmarks/eval_abstention.py (which
signals, at which sizes) and benchmarks/eval_answers.py (the shipped signals, refitted per fold)."""

from __future__ import annotations

import numpy as np

from bot.abstain_model import MODEL

ANSWERED_GOAL, REFUSED_GOAL = 0.95, 0.90  # issue 9: answer 95% of what the archive answers, refuse 90% of the rest
L2 = 1.0  # ridge penalty on the standardised weights: 7 or fewer signals, ~170 questions
# The shipped model's signals that vary within one archive (`log_chunks` is the same for all its questions)
ONE_SIZE_SIGNALS = tuple(s for s in MODEL.signals if s != "log_chunks")

Model = tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]


def fit(x: np.ndarray, y: np.ndarray) -> Model:
    """Mean, scale, weights and bias of an L2-penalised logistic regression (Newton's method), and the
    range of each signal it was fitted on (bot/abstain.py `AbstainModel` holds signals inside it)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.diag([L2] * (z.shape[1] - 1) + [0.0])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return mean, scale, w[:-1], float(w[-1]), x.min(axis=0), x.max(axis=0)


def probabilities(model: Model, x: np.ndarray) -> np.ndarray:
    mean, scale, w, b, low, high = model
    return np.asarray(1.0 / (1.0 + np.exp(-(((np.clip(x, low, high) - mean) / scale) @ w + b))))


def margin_threshold(dev: np.ndarray, others: np.ndarray) -> float:
    """The threshold with the widest margin over both goals (the smaller of answered − 95% and refused
    − 90%), the middle one of those tied."""
    cuts = _cuts(dev, others)
    margins = [min((dev >= c).mean() - ANSWERED_GOAL, (others < c).mean() - REFUSED_GOAL) for c in cuts]
    tied = [c for c, m in zip(cuts, margins) if m == max(margins)]
    return float(tied[len(tied) // 2])


def answered_threshold(dev: np.ndarray, others: np.ndarray, goal: float = ANSWERED_GOAL) -> float:
    """The highest threshold that still answers `goal` of the dev questions (refusing the most)."""
    cuts = [c for c in _cuts(dev, others) if (dev >= c).mean() >= goal]
    return float(max(cuts))


def _cuts(dev: np.ndarray, others: np.ndarray) -> list[float]:
    values = np.unique(np.concatenate([dev, others]))
    return [float(values[0]) - 1e-9, *((values[1:] + values[:-1]) / 2).tolist(), float(values[-1]) + 1e-9]


RULES = {"widest margin": margin_threshold, "answer 95% of the tuning folds": answered_threshold}
