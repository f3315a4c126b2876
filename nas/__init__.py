"""nas: the Pareto-aware neural architecture generator (PNAG) and baselines."""
