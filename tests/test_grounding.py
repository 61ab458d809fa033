"""The grounding check: a generated line is shown only if its names and numbers are in the quotes."""

from __future__ import annotations

import pytest

from bot.grounding import (
    citations,
    grounding_problems,
    names,
    number_value,
    numbers,
    unsupported,
)

QUOTES = [
    ("Ukrainian President Volodymyr Zelenskyy met French leader Emmanuel Macron in Paris on Monday.", 1),
    ("The Kremlin said 1,200 troops had left the border, and wheat exports rose 4.5% to $2.50 a bushel.", 2),
    ("Three people were hurt, according to the U.S. State Department, and Al-Shabaab claimed the attack.", 3),
]

GOOD = [
    "Zelenskyy met Macron in Paris on Monday [1].",
    "The Kremlin said 1200 troops left the border [2].",  # thousands separator normalised
    "Wheat exports rose 4.50% [2], and three people were hurt [3].",  # 4.50 ~ 4.5; "three" ~ "Three"
    "According to the US State Department, 3 people were hurt [3].",  # U.S. ~ US; digit ~ number word
    "Al-Shabaab claimed the attack [3].",
    "Zelenskyy’s meeting with Macron was on Monday [1, 2].",  # possessive, curly apostrophe, [1, 2]
    "President Zelenskyy met Macron [1][3].",
]

BAD = [
    ("Zelenskyy met Scholz in Paris [1].", "'Scholz' is not in the quotes"),  # invented name
    ("The Kremlin said 1,500 troops left the border [2].", "'1500' is not in the quotes"),  # invented number
    ("Wheat exports rose 4.5% in 2022 [2].", "'2022' is not in the quotes"),
    ("Four people were hurt [3].", "'4' is not in the quotes"),  # a number word counts
    ("The Kremlin said 1,200 million troops left [2].", "'million' is not in the quotes"),  # invented magnitude
    ("Zelenskyy met Macron in Paris on Tuesday [1].", "'Tuesday' is not in the quotes"),
    ("Zelenskyy met Macron in Paris [4].", "cites [4], which does not exist"),
    ("Zelenskyy met Macron in Paris.", "cites no quote"),
    ("Zelenskyy met Macron in Zürich [1].", "'Zürich' is not in the quotes"),
]


@pytest.mark.parametrize("line", GOOD)
def test_grounded_lines_pass(line):
    assert grounding_problems(line, QUOTES) == []


@pytest.mark.parametrize("line, problem", BAD)
def test_ungrounded_lines_are_named(line, problem):
    assert problem in grounding_problems(line, QUOTES)


def test_citation_numbers_are_not_checked_as_numbers():
    assert unsupported("Macron was in Paris [3].", [QUOTES[0][0]]) == []
    assert citations("Paris [1], wheat [2, 3] and [10]") == {1, 2, 3, 10}


def test_names_skip_words_capitalised_only_by_their_place():
    assert names("The Kremlin said In Paris, However, Zelenskyy") == ["Kremlin", "Paris", "Zelenskyy"]


def test_accents_are_folded_but_letters_are_not():
    assert unsupported("Zelenskyy met Macron [1].", ["Zélenskyy met Macron."]) == []
    assert unsupported("Zelensky met Macron [1].", ["Zelenskyy met Macron."]) == ["Zelensky"]


@pytest.mark.parametrize("raw, value", [("1,200", "1200"), ("2.50", "2.5"), ("3.0", "3"), ("007", "7"), ("0", "0")])
def test_number_values(raw, value):
    assert number_value(raw) == value


def test_numbers_in_words_and_scales():
    assert numbers("twelve ships and 3 million barrels, 2bn dollars") == {"12", "3", "million", "2", "billion"}
