"""The abstention model `ask` ships (bot/abstain.py): written by `python benchmarks/eval_abstention.py --across-sizes --write-model`."""

from bot.abstain import AbstainModel

# Logistic regression (L2 1.0, standardised signals) fitted on all 209 questions (dev and
# unanswerable set), each over corpus_5k and over the full corpus (int8 MiniLM), answerable: 109 at corpus_5k, 120 at full corpus.
# The threshold has the widest margin over answering 95% and refusing 90% of them; signals are held
# inside [low, high].
# Its cross-validated figures: docs/benchmarks.md, "Abstention across archive sizes".
MODEL = AbstainModel(
    signals=("rare_lede", "rare_article", "time_fit", "log_chunks"),
    mean=(0.415338, 0.697045, 0.567788, 11.798),
    scale=(0.303327, 0.239996, 0.448973, 0.84874),
    weights=(1.50611, 1.31098, 1.71341, -0.227619),
    bias=0.344316,
    threshold=0.452915,
    low=(0, 0.0969933, 0, 10.9493),
    high=(1, 1, 1, 12.6468),
)
