"""Quote choice: what may be quoted, the lede, answer types, the opening line in text, JSON and Discord."""

from __future__ import annotations

import pytest

from bot import embeds, places
from bot.answer import Answer, Citation, ask, lead_line
from bot.answer_types import (
    COUNTRY,
    DATE,
    NAME,
    NUMBER,
    PERSON,
    PLACE,
    STATE,
    answer_span,
    answer_type,
    full_name,
    lowercase_words,
    refers_back,
)
from bot.choose import AnswerTuning, asked_weights
from bot.quotes import article_sentences, is_lede, quotable, strip_dateline
from index.article import Article

from .conftest import utc

PAGE = (
    "Jane Doe\n\nAssociated Press\n\nJuly 22, 2024, 7:00 a.m. ET\n\n"
    "WASHINGTON — Mercedes unveiled the EQXX, an electric concept car, on Monday in Las Vegas.\n\n"
    "The company said the car can drive 620 miles on a single charge.\n\n"
    "Related: Electric cars are selling faster than ever.\n\n"
    "Sign up for our newsletter to get the week's news in your inbox.\n\n"
    "The EQXX prototype on show in Las Vegas. Getty Images\n\n"
    "Rivals are expected to respond with their own concept cars next year."
)


def test_page_furniture_is_never_quoted_and_the_dateline_is_cut() -> None:
    sentences = article_sentences(PAGE)
    texts = [s.text for s in sentences]
    assert texts == [
        "Mercedes unveiled the EQXX, an electric concept car, on Monday in Las Vegas.",
        "The company said the car can drive 620 miles on a single charge.",
        "Rivals are expected to respond with their own concept cars next year.",
    ]
    assert all(PAGE[s.start : s.end] == s.text for s in sentences)  # still verbatim
    assert [is_lede(s) for s in sentences] == [True, True, False]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "London CNN — The Queen has died at Balmoral, the palace said.",
            "The Queen has died at Balmoral, the palace said.",
        ),
        ("New York (CNN Business) Elon Musk agreed to buy Twitter.", "Elon Musk agreed to buy Twitter."),
        ("(CNN) An Illinois day-care worker has tested positive.", "An Illinois day-care worker has tested positive."),
        ("GATLINBURG, Tenn. – The park announced a plan on Wednesday.", "The park announced a plan on Wednesday."),
        ("MOSCOW (AP) — The Latest on Tuesday at the World Cup.", "The Latest on Tuesday at the World Cup."),
        ("The vote — a close one — passed on Tuesday.", "The vote — a close one — passed on Tuesday."),
    ],
)
def test_strip_dateline(raw: str, expected: str) -> None:
    assert strip_dateline(raw) == expected


@pytest.mark.parametrize(
    "line",
    [
        "Sharm El Sheikh, Egypt CNN —",
        "Updated Oct. 24, 2023, 4:03 a.m. ET",
        "RELATED: Read the full ruling here.",
        "Contact the reporter at jane@example.com for tips.",
        "Editor's note: This page recaps the news from Ukraine.",
        "A version of this story appeared in CNN's Meanwhile in China newsletter.",
    ],
)
def test_not_quotable(line: str) -> None:
    assert not quotable(strip_dateline(line))


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Which car company just unveiled the EQXX?", NAME),
        ("Who won the Philippines presidential election?", PERSON),
        ("Which tennis star won a historic Australian Open title?", PERSON),
        ("Whose company bought Twitter?", NAME),
        ("About how many people have been arrested?", NUMBER),
        ("How much money has the US committed to Ukraine?", NUMBER),
        ("When will NASA next attempt to launch Artemis I?", DATE),
        ("Where in the US is it illegal to pump your own gas?", PLACE),
        ("What did the rover find on Mars?", None),
        ("Which country’s lawmakers urged officials to “show no leniency” to protesters?", COUNTRY),
        ("The prime minister of this country resigned this week.", COUNTRY),
        ("Severe flooding hit which state this week?", STATE),
    ],
)
def test_answer_type(question: str, kind: str | None) -> None:
    assert answer_type(question) == kind


def test_answer_span_skips_what_the_question_names() -> None:
    sentence = "Mercedes unveiled the EQXX, an electric concept car, on Monday."
    question = "Which car company just unveiled the EQXX?"
    assert sentence[slice(*answer_span(question, sentence))] == "Mercedes"
    found = answer_span("How many people were arrested?", "Police said more than 700 people were arrested.")
    assert found
    assert "700" in "Police said more than 700 people were arrested."[slice(*found)]
    assert answer_span("Which company unveiled the EQXX?", "The EQXX was shown.") is None
    decade = "Khamenei was imprisoned in the 1970s; more than 1,000 people have been arrested since 2019."
    assert (
        decade[slice(*answer_span("About how many people have been arrested?", decade))] == "1,000"
    )  # years are dates
    assert answer_span("How many people died?", "The storm hit in 2019.") is None


def test_a_sentence_opener_the_article_writes_in_lower_case_is_not_a_name() -> None:
    article = (
        "New movies like Plane were no match for Avatar at the box office. Studios hope new releases do better. "
        "Sudan had been ruled by the military since 2019."
    )
    common = lowercase_words(article)
    question = "Which movie topped the box office this weekend?"
    opener = "New movies like Plane were no match for Avatar at the box office."
    assert opener[slice(*answer_span(question, opener))] == "New"  # without the article: taken for a name
    assert opener[slice(*answer_span(question, opener, common=common))] == "Plane"
    sudan = "Sudan had been ruled by the military since 2019."
    assert sudan[slice(*answer_span("Which country's prime minister resigned?", sudan, common=common))] == "Sudan"
    assert (
        lead_line(question, opener, 1, common)
        == "“New movies like **Plane** were no match for Avatar at the box office.” [1]"
    )
    record = "Aaron Judge finally hit No. 61 on Wednesday, tying Roger Maris."
    assert record[slice(*answer_span("Who holds the record?", record))] == "Aaron Judge"
    assert answer_span("Who holds the record?", "He hit No. 61 on Wednesday.") is None  # "No." is a number sign


def test_which_country_and_which_state_are_answered_by_a_country_or_a_state() -> None:
    question = "Which country's prime minister resigned after Boris Johnson?"
    johnson = "Boris Johnson resigned on Thursday."
    assert answer_span(question, johnson) is None  # a name, but no country's
    sudan = "The Sudanese prime minister resigned days after Johnson."
    assert sudan[slice(*answer_span(question, sudan))] == "Sudanese"
    assert lead_line(question, sudan, 1) == "**Sudan** — “The Sudanese prime minister resigned days after Johnson.” [1]"
    south = "South Sudanese officials met on Friday."
    assert south[slice(*answer_span(question, south))] == "South Sudanese"  # the longest form, not "Sudanese"
    formula = "The U.S. flew in baby formula from Germany's Nestlé plants."
    assert formula[slice(*answer_span("The U.S. flew in formula from which country?", formula))] == "Germany"
    assert lead_line("Which country did the UK choose?", "The UK chose Rwanda.", 2) == "“The UK chose **Rwanda**.” [2]"
    flood = "Crews searched Buchanan County after 44 people in Indianapolis and rural Virginia went missing."
    state = "Dozens were unaccounted for after flooding in which state?"
    assert flood[slice(*answer_span(state, flood))] == "Virginia"  # not "Crews", "Buchanan County", "India…"
    assert answer_span(state, "Crews worked overnight in Buchanan County.") is None


def test_a_person_is_not_a_title_in_quotes_and_is_stated_by_full_name() -> None:
    question = "Which movie director set a new record at the Oscars nominations?"
    quote = "As producer of “West Side Story,” Spielberg has now produced 11 films nominated, a new record."
    assert quote[slice(*answer_span(question, quote))] == "Spielberg"
    assert answer_span("Which movie topped the box office?", quote) is not None  # a title answers "which movie"
    article = f"Fellow directing nominee Steven Spielberg also set a new record. {quote} President Biden said so."
    assert full_name("Spielberg", article) == "Steven Spielberg"  # not "nominee", "Fellow" or a title
    assert full_name("Biden", article) is None  # "President" is his title, not his first name
    assert full_name("Spielberg", "Spielberg Spielberg said.") is None
    assert lead_line(question, quote, 1, lowercase_words(article), article) == f"**Steven Spielberg** — “{quote}” [1]"
    assert lead_line(question, quote, 1) == (
        "“As producer of “West Side Story,” **Spielberg** has now produced 11 films nominated, a new record.” [1]"
    )


def test_lead_line_bolds_the_answer_span() -> None:
    assert lead_line("Which car company unveiled the EQXX?", "Mercedes unveiled the EQXX on Monday.", 1) == (
        "“**Mercedes** unveiled the EQXX on Monday.” [1]"
    )
    assert lead_line("What did the rover find?", "The rover found carbon.", 2) == "“The rover found carbon.” [2]"


def test_ask_opens_with_the_answer_from_the_whole_article(archive) -> None:
    archive.ingest(
        [
            Article(
                text=PAGE,
                title="Mercedes shows the EQXX",
                url="https://cars.example/eqxx",
                outlet="AP",
                published=utc(2022, 1, 4),
            )
        ],
        progress=False,
    )
    answer = ask(archive, "Which car company unveiled the EQXX electric concept car?")
    assert not answer.abstained
    assert answer.lead
    assert "**Mercedes**" in answer.lead
    assert answer.text.splitlines()[0] == answer.lead
    assert answer.to_json()["lead"] == answer.lead
    shown = answer.text
    assert "Getty" not in shown
    assert "newsletter" not in shown
    assert "WASHINGTON" not in shown
    assert shown.count("unveiled the EQXX") == 1  # the lead's quote is not repeated below it


SQUID = (
    "New York CNN —\n\n“Squid Game” is officially coming back.\n\n"
    "Netflix announced Sunday that the wildly popular South Korean show is green lit for a second season.\n\n"
    "The show's creator said fans can expect new games and new players next year."
)


def test_a_which_question_answered_by_the_thing_referred_back_to_opens_with_the_sentence_naming_it(archive) -> None:
    question = "Which wildly popular show was recently green lit for a new season?"
    assert refers_back(question, "Netflix said the wildly popular South Korean show is green lit.")
    assert not refers_back(question, "“Squid Game” is officially coming back.")
    assert not refers_back("What did Netflix announce?", "Netflix said the show is green lit.")
    story = Article(text=SQUID, title="Squid Game renewed", url="https://tv.example/squid", published=utc(2022, 6, 12))
    archive.ingest([story], progress=False)
    answer = ask(archive, question)
    assert not answer.abstained
    assert answer.lead == "““**Squid Game**” is officially coming back.” [1]"  # verbatim, its own quote marks kept
    assert answer.quotes[1][0].startswith("Netflix announced Sunday")  # the sentence that matched, after it


def test_embed_opens_with_the_lead_and_keeps_its_bold() -> None:
    citation = Citation(1, "https://x.example/a", "Headline", "AP", "2022-01-04T00:00:00+00:00", "q")
    answer = Answer(
        "Which company?",
        [("Mercedes_ unveiled it.", 1), ("It drives far.", 1)],
        [citation],
        False,
        lead="“**Mercedes_** unveiled it.” [1]",
        lead_quote=0,
    )
    description = embeds.answer_embed(answer).description
    first, *rest = description.split("\n")
    assert first == "“**Mercedes\\_** unveiled it.” **[1]**"
    assert rest == ["> “It drives far.” **[1]**"]


IOS = (
    "Apple on Monday released its next-generation mobile software, iOS 16.\n\n"
    "The update works with any model dating back to 2017.\n\n"
    "Among the most highly anticipated features Apple introduced for iPhones is the ability to unsend iMessages."
)


def test_a_quiz_question_is_answered_by_its_question_not_by_the_lede_its_context_repeats(archive) -> None:
    question = (
        "Apple released iOS 16 on Monday. Which highly anticipated feature did the company introduce to its iPhones?"
    )
    weights = {"appl": 2.0, "releas": 1.0, "anticip": 1.5, "featur": 1.0}
    assert asked_weights(question, weights, 0.5) == {"appl": 1.0, "releas": 0.5, "anticip": 1.5, "featur": 1.0}
    assert asked_weights("Which feature did Apple introduce?", weights, 0.5) == weights  # one sentence: all asked
    story = Article(
        text=IOS, title="Apple releases iOS 16", url="https://tech.example/ios16", published=utc(2022, 9, 12)
    )
    archive.ingest([story], progress=False)
    default = ask(archive, question)
    assert default.lead and "unsend" in default.lead
    echo = ask(archive, question, answer_tuning=AnswerTuning(context_weight=1.0))
    assert echo.lead and "released its next-generation" in echo.lead  # the lede echoing the context wins


@pytest.mark.parametrize(
    ("sentence", "kind", "found"),
    [
        ("Officials met in Bosnia and Herzegovina, then in Iran.", "country", ["Bosnia and Herzegovina", "Iran"]),
        (
            "The U.S. and the Democratic Republic of the Congo signed.",
            "country",
            ["U.S.", "Democratic Republic of the Congo"],
        ),
        ("Iran's lawmakers and a Sudan-based group.", "country", ["Iran", "Sudan"]),
        ("Crews from Indiana and West Virginia.", "state", ["Indiana", "West Virginia"]),
        ("Crews from Indiana and West Virginia.", "country", []),
    ],
)
def test_places_are_found_by_their_longest_form(sentence: str, kind: str, found: list[str]) -> None:
    assert [sentence[a:b] for a, b in places.find(sentence, kind)] == found


AD_FORM = (
    "1. How relevant is this ad to you?\n\nVideo player was slow to load content Video content never loaded "
    "Ad froze or did not finish loading Video content did not start after ad Audio on ad was too loud Other issues"
)


def test_an_article_scraped_as_its_ad_form_is_quoted_by_its_headline(archive) -> None:
    assert article_sentences(AD_FORM) == ()
    title = "Nissan recalls more than 200,000 pickup trucks due to rollaway risk ..."
    archive.ingest(
        [Article(text=AD_FORM, title=title, url="https://cars.example/nissan", published=utc(2022, 9, 18))],
        progress=False,
    )
    answer = ask(archive, "Which automaker recalled more than 200,000 pickup trucks?")
    assert answer.lead == "“**Nissan** recalls more than 200,000 pickup trucks due to rollaway risk” [1]"
    assert "Video player" not in answer.text
