"""The abstention model `ask` ships (bot/abstain.py): written by `python benchmarks/eval_abstention.py --write-model`."""

from bot.abstain import AbstainModel

# Logistic regression (L2 1.0, standardised signals) fitted on all 109 dev questions and 100
# unanswerable ones over corpus_5k; the threshold is the one with the widest margin over answering 95%
# and refusing 90% of them. Its cross-validated figures: docs/benchmarks.md, "Abstention".
MODEL = AbstainModel(
    signals=("rare_lede", "rare_article", "time_fit"),
    mean=(0.386747, 0.669535, 0.556042),
    scale=(0.307246, 0.252143, 0.45182),
    weights=(1.68351, 1.38921, 1.90465),
    bias=0.245002,
    threshold=0.393001,
)
