"""The abstention model `ask` ships (bot/abstain.py): written by `python benchmarks/eval_abstention.py --write-model`."""

from bot.abstain import AbstainModel

# Logistic regression (L2 1.0, standardised signals) fitted on all 109 dev questions and 100
# unanswerable ones over corpus_5k (int8 MiniLM); the threshold is the one with the widest margin over answering 95%
# and refusing 90% of them. Its cross-validated figures: docs/benchmarks.md, "Abstention".
MODEL = AbstainModel(
    signals=("rare_lede", "rare_article", "time_fit"),
    mean=(0.388991, 0.669829, 0.552847),
    scale=(0.304979, 0.247413, 0.451066),
    weights=(1.68978, 1.26955, 1.91725),
    bias=0.185331,
    threshold=0.408782,
)
