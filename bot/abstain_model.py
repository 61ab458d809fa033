"""The abstention model `ask` ships (bot/abstain.py): written by `python benchmarks/eval_abstention.py --across-sizes --write-model`."""

from bot.abstain import AbstainModel

# Logistic regression (L2 1.0, standardised signals) fitted on all 109 dev questions and 100
# unanswerable ones, each over corpus_5k and over the full corpus (int8 MiniLM); the threshold is the one
# with the widest margin over answering 95% and refusing 90% of them; signals held inside [low, high].
# Its cross-validated figures: docs/benchmarks.md, "Abstention across archive sizes".
MODEL = AbstainModel(
    signals=("rare_lede", "rare_article", "time_fit", "log_chunks"),
    mean=(0.425468, 0.705046, 0.564186, 11.798),
    scale=(0.299035, 0.233625, 0.450501, 0.84874),
    weights=(1.20066, 1.06684, 1.56594, -0.481702),
    bias=0.00714378,
    threshold=0.510914,
    low=(0, 0.0969933, 0, 10.9493),
    high=(1, 1, 1, 12.6468),
)
