"""The abstention model `ask` ships (bot/abstain.py): written by `python benchmarks/eval_abstention.py --across-sizes --write-model`."""

from bot.abstain import AbstainModel

# Logistic regression (L2 1.0, standardised signals) fitted on all 209 questions (dev and
# unanswerable set), each over corpus_5k and over the full corpus (int8 MiniLM), answerable: 109 at corpus_5k, 120 at full corpus.
# The threshold has the widest margin over answering 95% and refusing 90% of them; signals are held
# inside [low, high].
# Its cross-validated figures: docs/benchmarks.md, "Abstention across archive sizes".
MODEL = AbstainModel(
    signals=("rare_lede", "rare_article", "time_fit", "log_chunks"),
    mean=(0.415084, 0.697096, 0.571666, 11.798),
    scale=(0.303051, 0.239959, 0.449696, 0.84874),
    weights=(1.52052, 1.35773, 1.79886, -0.249411),
    bias=0.316187,
    threshold=0.463978,
    low=(0, 0.0969933, 0, 10.9493),
    high=(1, 1, 1, 12.6468),
)
