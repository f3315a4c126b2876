"""The budget-conditioned generator f(B; theta) and its policy-gradient training.

The generator is an autoregressive policy over the space's decisions: an
LSTM cell (64 units, as in the authors' code) reads the embedding of the
previous choice together with a projection of the *context vector* and emits
the logits of the next decision. The initial state is also a function of the
context. The context is whatever :class:`nas.budget.BudgetContext` makes of
the budget (continuous log-budget features) plus optional extra features, so
the same class serves one device or many (``context_dim`` is all it needs).

Training is REINFORCE: for groups of budgets drawn across the feasible range,
sample several architectures per budget, use the mean reward of the group as
the baseline, and add an entropy bonus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from nas.sources.base import one_torch_thread


class Generator(nn.Module):
    """pi(alpha | context): one categorical distribution per decision, in order."""

    def __init__(self, choices: Sequence[int], context_dim: int, hidden: int = 64, embed: int = 32):
        super().__init__()
        self.choices = [int(n) for n in choices]
        self.config = {"choices": self.choices, "context_dim": context_dim,
                       "hidden": hidden, "embed": embed}
        offsets = np.concatenate([[1], 1 + np.cumsum(self.choices)[:-1]])
        self.register_buffer("offsets", torch.as_tensor(offsets, dtype=torch.long), persistent=False)
        self.embed = nn.Embedding(1 + sum(self.choices), embed)  # token 0 = start
        self.context_in = nn.Linear(context_dim, embed)
        self.init_h = nn.Linear(context_dim, hidden)
        self.init_c = nn.Linear(context_dim, hidden)
        self.cell = nn.LSTMCell(2 * embed, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in self.choices)

    def _start(self, context: torch.Tensor):
        h = torch.tanh(self.init_h(context))
        c = torch.tanh(self.init_c(context))
        token = torch.zeros(len(context), dtype=torch.long)
        return h, c, token, torch.relu(self.context_in(context))

    def sample(self, context: torch.Tensor, greedy: bool = False, temperature: float = 1.0,
               generator: torch.Generator | None = None):
        """Sample one architecture per context row.

        Returns ``(indices (N, D), log_prob (N,), entropy (N,))``; indices are
        choice indices, one per decision, for ``space.decode``.
        """
        h, c, token, ctx = self._start(context)
        picks, log_prob, entropy = [], 0.0, 0.0
        for t, head in enumerate(self.heads):
            h, c = self.cell(torch.cat([self.embed(token), ctx], dim=-1), (h, c))
            logits = head(h) / temperature
            dist = torch.distributions.Categorical(logits=logits)
            if greedy:
                pick = logits.argmax(-1)
            else:
                pick = torch.multinomial(dist.probs, 1, generator=generator).squeeze(-1)
            log_prob = log_prob + dist.log_prob(pick)
            entropy = entropy + dist.entropy()
            picks.append(pick)
            token = pick + self.offsets[t]
        return torch.stack(picks, dim=1), log_prob, entropy


@dataclass
class GeneratorFit:
    """Training summary: mean reward and feasible share over the last steps."""

    steps: int
    final_reward: float
    final_feasible: float


def fit_generator(model: Generator, reward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
                  sample_budgets: Callable[[np.random.Generator, int], np.ndarray],
                  context: Callable[[np.ndarray], np.ndarray], *, steps: int = 300,
                  budgets_per_step: int = 16, samples_per_budget: int = 16, lr: float = 1e-3,
                  entropy: float = 0.01, seed: int = 0,
                  progress: Callable[[int, int], None] | None = None) -> GeneratorFit:
    """REINFORCE with a per-budget group baseline and an entropy bonus.

    ``reward(indices, budgets)`` returns ``(rewards, feasible)`` for N sampled
    architectures (choice indices, shape (N, D)) and their budgets.
    """
    with one_torch_thread():
        return _fit(model, reward, sample_budgets, context, steps, budgets_per_step,
                    samples_per_budget, lr, entropy, seed, progress)


def _fit(model, reward, sample_budgets, context, steps, budgets_per_step, samples_per_budget,
         lr, entropy, seed, progress) -> GeneratorFit:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[tuple[float, float]] = []
    g, s = budgets_per_step, samples_per_budget
    model.train()
    for step in range(steps):
        budgets = np.repeat(sample_budgets(rng, g), s)
        ctx = torch.as_tensor(context(budgets))
        indices, log_prob, ent = model.sample(ctx)
        r, feasible = reward(indices.numpy(), budgets)
        r_t = torch.as_tensor(r, dtype=torch.float32).reshape(g, s)
        advantage = r_t - r_t.mean(dim=1, keepdim=True)
        advantage = (advantage / (advantage.std() + 1e-6)).reshape(-1)
        objective = -(advantage * log_prob).mean() - entropy * ent.mean()
        opt.zero_grad()
        objective.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        history.append((float(np.mean(r)), float(np.mean(feasible))))
        if progress is not None:
            progress(step + 1, steps)
    model.eval()
    tail = history[-max(1, steps // 10):]
    return GeneratorFit(steps, float(np.mean([t[0] for t in tail])), float(np.mean([t[1] for t in tail])))
