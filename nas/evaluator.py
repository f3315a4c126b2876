"""The Pareto-aware evaluator R(alpha | B; w) and its ranking loss.

R scores an architecture under a budget. It is trained with the pairwise
ranking loss of PNAG (eq. 4)::

    L(w) = 1/(K M (M-1)) sum_k sum_i sum_{j != i} phi(d(b_i, b_j, B_k) * [R(b_i|B_k) - R(b_j|B_k)])

with the Pareto dominance rule d (eq. 5): when both architectures fit the
budget the more accurate one wins (ties go to the first); otherwise the
cheaper one wins. ``phi`` is the hinge ``max(0, 1 - z)`` by default, or the
logistic ``log(1 + exp(-z))`` of the authors' code.

The network sees the architecture's feature vector (``space.features``) next
to the context vector of the budget (see :mod:`nas.budget`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from nas.sources.base import one_torch_thread

LOSSES = ("hinge", "logistic")


def dominance(acc_i, acc_j, cost_i, cost_j, budget) -> np.ndarray:
    """Eq. 5: +1 where architecture i should rank above j under ``budget``, else -1.

    Arguments broadcast; ``budget`` may be a scalar or an array.
    """
    acc_i, acc_j, cost_i, cost_j, budget = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (acc_i, acc_j, cost_i, cost_j, budget)))
    both = (cost_i <= budget) & (cost_j <= budget)
    by_acc = np.where(acc_i >= acc_j, 1, -1)
    by_cost = np.where(cost_i <= cost_j, 1, -1)
    return np.where(both, by_acc, by_cost).astype(np.int8)


def phi(z: torch.Tensor, loss: str = "hinge") -> torch.Tensor:
    """The surrogate: hinge ``max(0, 1 - z)`` or logistic ``log(1 + e^-z)``."""
    if loss == "hinge":
        return torch.clamp(1 - z, min=0)
    if loss == "logistic":
        return nn.functional.softplus(-z)
    raise ValueError(f"unknown loss {loss!r}; use one of {LOSSES}")


def dominance_matrix(acc: torch.Tensor, cost: torch.Tensor, budgets: torch.Tensor) -> torch.Tensor:
    """d for all pairs: shape (K, M, M), +1/-1, from M accuracies and costs and K budgets."""
    fits = cost[None, :] <= budgets[:, None]                      # (K, M)
    both = fits[:, :, None] & fits[:, None, :]
    by_acc = (acc[:, None] >= acc[None, :]).float() * 2 - 1        # (M, M)
    by_cost = (cost[:, None] <= cost[None, :]).float() * 2 - 1
    return torch.where(both, by_acc[None], by_cost[None])


def ranking_loss(scores: torch.Tensor, acc: torch.Tensor, cost: torch.Tensor,
                 budgets: torch.Tensor, loss: str = "hinge") -> torch.Tensor:
    """Eq. 4 exactly: ``scores`` is R(beta_i | B_k) with shape (K, M)."""
    k, m = scores.shape
    d = dominance_matrix(acc, cost, budgets)
    diff = scores[:, :, None] - scores[:, None, :]
    off_diagonal = ~torch.eye(m, dtype=torch.bool)
    return phi(d * diff, loss)[:, off_diagonal].sum() / (k * m * (m - 1))


def kendall_tau(scores: np.ndarray, acc: np.ndarray, cost: np.ndarray, budgets: np.ndarray) -> float:
    """Kendall tau between R's pairwise order and the dominance rule.

    ``scores`` has shape (K, M). Over all pairs i < j and all budgets:
    (concordant - discordant) / pairs, where a pair is concordant when
    sign(R_i - R_j) equals d(i, j, B). Equal scores count as neither.
    """
    k, m = scores.shape
    i, j = np.triu_indices(m, 1)
    d = dominance(acc[i][None], acc[j][None], cost[i][None], cost[j][None], budgets[:, None])
    s = np.sign(scores[:, i] - scores[:, j])
    return float((s * d).sum() / max(d.size, 1))


class Evaluator(nn.Module):
    """An MLP on [architecture features, context vector] -> one score."""

    def __init__(self, arch_dim: int, context_dim: int, hidden: int = 256, layers: int = 3):
        super().__init__()
        self.config = {"arch_dim": arch_dim, "context_dim": context_dim,
                       "hidden": hidden, "layers": layers}
        parts: list[nn.Module] = []
        width = arch_dim + context_dim
        for _ in range(layers):
            parts += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        parts.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*parts)

    def forward(self, arch: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([arch, context], dim=-1)).squeeze(-1)

    def grid(self, arch: torch.Tensor, contexts: torch.Tensor) -> torch.Tensor:
        """Scores of M architectures under K contexts: shape (K, M)."""
        k, m = len(contexts), len(arch)
        a = arch[None].expand(k, m, arch.shape[-1])
        c = contexts[:, None].expand(k, m, contexts.shape[-1])
        return self(a.reshape(k * m, -1), c.reshape(k * m, -1)).reshape(k, m)


@dataclass
class EvaluatorFit:
    """What fitting reported: held-out Kendall tau, final loss, pair counts."""

    tau: float
    train_tau: float
    loss: float
    train_archs: int
    heldout_archs: int
    score_mean: float
    score_std: float


def fit_evaluator(features: np.ndarray, acc: np.ndarray, cost: np.ndarray, budgets: np.ndarray,
                  context: Callable[[np.ndarray], np.ndarray], *, hidden: int = 256,
                  layers: int = 3, steps: int = 300, budgets_per_step: int = 4,
                  archs_per_step: int = 512, lr: float = 1e-3, loss: str = "hinge",
                  heldout: float = 0.2, seed: int = 0,
                  progress: Callable[[int, int], None] | None = None) -> tuple[Evaluator, EvaluatorFit]:
    """Train R on M architectures with known accuracy and cost over K budgets.

    Each step takes ``budgets_per_step`` of the K budgets and up to
    ``archs_per_step`` training architectures and minimises eq. 4 over every
    pair among them, so the expectation is exactly the paper's loss. A
    ``heldout`` share of the architectures is kept out and used to report
    Kendall tau of the learned pairwise order.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {LOSSES}")
    with one_torch_thread():
        return _fit(features, acc, cost, budgets, context, hidden, layers, steps,
                    budgets_per_step, archs_per_step, lr, loss, heldout, seed, progress)


def _fit(features, acc, cost, budgets, context, hidden, layers, steps, budgets_per_step,
         archs_per_step, lr, loss, heldout, seed, progress) -> tuple[Evaluator, EvaluatorFit]:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    m = len(features)
    order = rng.permutation(m)
    n_held = int(round(m * heldout)) if m >= 10 else 0
    held, train = order[:n_held], order[n_held:]
    x = torch.as_tensor(np.asarray(features, dtype=np.float32))
    a = torch.as_tensor(np.asarray(acc, dtype=np.float32))
    c = torch.as_tensor(np.asarray(cost, dtype=np.float32))
    b_all = np.asarray(budgets, dtype=float)
    ctx_all = torch.as_tensor(context(b_all))
    b_t = torch.as_tensor(b_all, dtype=torch.float32)
    model = Evaluator(x.shape[1], ctx_all.shape[1], hidden, layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-5)
    value = float("nan")
    for step in range(steps):
        ks = rng.choice(len(b_all), size=min(budgets_per_step, len(b_all)), replace=False)
        idx = train if len(train) <= archs_per_step else rng.choice(train, archs_per_step, replace=False)
        idx_t = torch.as_tensor(idx)
        scores = model.grid(x[idx_t], ctx_all[ks])
        objective = ranking_loss(scores, a[idx_t], c[idx_t], b_t[ks], loss)
        opt.zero_grad()
        objective.backward()
        opt.step()
        value = float(objective.detach())
        if progress is not None:
            progress(step + 1, steps)
    model.eval()
    with torch.no_grad():
        all_scores = model.grid(x, ctx_all).numpy()
    train_tau = _tau_on(all_scores, train, acc, cost, b_all)
    tau = _tau_on(all_scores, held, acc, cost, b_all) if len(held) >= 2 else float("nan")
    feasible = np.asarray(cost)[None, :] <= b_all[:, None]
    ref = all_scores[feasible] if feasible.any() else all_scores.ravel()
    fit = EvaluatorFit(tau, train_tau, value, len(train), len(held),
                       float(ref.mean()), float(ref.std() or 1.0))
    return model, fit


def _tau_on(scores: np.ndarray, idx: np.ndarray, acc, cost, budgets) -> float:
    if len(idx) < 2:
        return float("nan")
    idx = idx[:600]  # all pairs of 600 architectures is plenty for a tau estimate
    return kendall_tau(scores[:, idx], np.asarray(acc)[idx], np.asarray(cost)[idx], budgets)
