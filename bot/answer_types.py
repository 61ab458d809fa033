"""What kind of answer a question wants, and where a sentence holds one (measured heuristics).

Who / which director… → a run of capitalised names outside quotation marks (those are titles); which
company, team, city… → a capitalised name; which country or state → one bot/places.py lists ("Iranian"
answers for Iran); how many / how much / what percentage → a number; when / what year → a date;
where → a place after "in", "at" or "near". What the question itself names is not an answer: "Which company unveiled
the EQXX?" is answered by "Mercedes", not by "EQXX"."""

from __future__ import annotations

import re
from functools import lru_cache

from bot import places

NAME, NUMBER, DATE, PLACE = "name", "number", "date", "place"
COUNTRY, STATE = "country", "state"  # names of a kind bot/places.py lists
PERSON = "person"  # a name, not a title in quotation marks (“West Side Story”)
MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan\\.|Feb\\.|Aug\\.|Sept?\\.|Oct\\.|Nov\\.|Dec\\."
)
_NUMBER = re.compile(
    r"(?:[$£€]\s?)?\b\d[\d,.]*(?:\s?(?:%|percent|million|billion|trillion|thousand))?"
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"dozens?|hundreds|thousands|millions|billions)\b(?:\s(?:million|billion|thousand|percent))?",
    re.I,
)
_DATE = re.compile(
    rf"\b(?:{MONTHS})(?:\s\d{{1,2}}(?:,\s\d{{4}})?)?|\b(?:19|20)\d\d\b|\b(?:Monday|Tuesday|Wednesday|Thursday|"
    r"Friday|Saturday|Sunday)\b|\b(?:next|this|last)\s(?:week|month|year|spring|summer|fall|autumn|winter)\b"
)
_CAPITAL = r"(?:[A-Z][\w’'.&-]*|of|the|de|von|al|bin|and)"
_NAME = re.compile(r"\b[A-Z][\w’'&-]*\.?(?:\s+" + _CAPITAL + r")*")
_PLACE = re.compile(r"\b(?:in|at|near|from|to)\s+((?:the\s)?[A-Z][\w’'.-]*(?:,?\s+[A-Z][\w’'.-]*)*)")
_WHICH_NAME = re.compile(
    r"\b(?:which|what)\s+(?:\w+\s+){0,2}(country|countries|state|states|city|cities|company|companies|firm|"
    r"automaker|carmaker|team|teams|club|nation|party|university|airline|brand|network|platform|app|show|"
    r"movie|film|agency|island|region|province|town|organization|group|league|tournament|bank|retailer|"
    r"chain|supermarkets?|restaurant|president|star|celebrity|director|athlete|player|philanthropist|"
    r"singer|actor|actress|member|official|leader|lawmaker|mp|senator|governor|ceo|billionaire|rapper|"
    r"musician|artist|author|writer|person|man|woman|virus|storm|hurricane|volcano|award|awards)\b",
    re.I,
)
_THIS_PLACE = re.compile(r"\bthis\s+(country|nation|state)\b", re.I)  # a quiz's "The leader of this country…"
_PEOPLE = (
    "president star celebrity director athlete player philanthropist singer actor actress member official leader "
    "lawmaker mp senator governor ceo billionaire rapper musician artist author writer person man woman"
).split()
_LISTED = {
    "country": COUNTRY,
    "countries": COUNTRY,
    "nation": COUNTRY,
    "state": STATE,
    "states": STATE,
    **dict.fromkeys(_PEOPLE, PERSON),
}
_NOT_NAMES = frozenset(
    "The A An In On At It He She They We His Her Their This That These Those But And However When While After "
    "Before As If For With From By Of Mr Mrs Ms Dr I You Its Our There Here Some Many Most All Now Then Also No "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July "
    "August September October November December".split()
)


def answer_type(question: str) -> str | None:
    """NUMBER, DATE, PLACE, PERSON (who, which director…), COUNTRY, STATE, NAME (which company, team…)
    or None (a what/why question: no type to look for)."""
    q = question.lower()
    if re.search(
        r"\bhow (?:many|much|high|long|far|big|old|fast)\b|\bwhat (?:percentage|percent|share|number|"
        r"amount|price|sum)\b|\bhow (?:tall|low)\b",
        q,
    ):
        return NUMBER
    if re.search(r"\bwhen\b|\bwhat (?:year|month|day|date)\b|\bhow soon\b", q):
        return DATE
    if re.search(r"\bwhere\b", q):
        return PLACE
    if re.search(r"\bwho(?:m)?\b", q):
        return PERSON
    if re.search(r"\bwhose\b", q):
        return NAME
    which = _WHICH_NAME.search(question) or _THIS_PLACE.search(question)
    if which is None:
        return None
    return _LISTED.get(which.group(1).lower(), NAME)


@lru_cache(maxsize=1024)
def _question_words(question: str) -> frozenset[str]:
    return frozenset(w.strip(".,’'s").lower() for w in re.findall(r"[\w’'.&-]+", question))


def _new(span: str, asked: frozenset[str]) -> bool:
    """A span the question does not already name (any of its capitalised words new)."""
    words = [w.strip(".,’'s").lower() for w in span.split() if w[:1].isupper() or w[:1].isdigit() or w[:1] in "$£€"]
    return bool(words) and any(w not in asked for w in words)


_LIKE_A_WORD = re.compile(r"(?:ing|ed|ly|ers|ies|tion|ions)$")  # "Defending champion …", "Officials said …"


_LOWER_WORD = re.compile(r"\b[a-z][\w’'&-]*")
_YEAR = re.compile(r"(?:19|20)\d\d")


@lru_cache(maxsize=64)
def lowercase_words(text: str) -> frozenset[str]:
    """The words a text writes in lower case: a sentence's first word that is among them ("New movies…",
    "Crews worked…") is capitalised by its place, not because it is a name ("Sudan had…")."""
    return frozenset(_LOWER_WORD.findall(text))


def _names(sentence: str, common: frozenset[str]) -> list[tuple[int, int]]:
    """Capitalised runs, without common capitalised words (sentence openers, days, months)."""
    found = []
    for match in _NAME.finditer(sentence):
        text = match.group().rstrip(".")
        while " " in text and text.rsplit(" ", 1)[1] in ("of", "the", "de", "von", "al", "bin", "and"):
            text = text.rsplit(" ", 1)[0]
        opener = match.start() == 0 and " " not in text
        if text in _NOT_NAMES or (opener and (_LIKE_A_WORD.search(text) or text.lower() in common)):
            continue
        found.append((match.start(), match.start() + len(text)))
    return found


@lru_cache(maxsize=100_000)
def spans(sentence: str, kind: str, common: frozenset[str] = frozenset()) -> tuple[tuple[int, int], ...]:
    """Where `sentence` holds an answer of `kind`, in order; `common`: the lower-case words of its text."""
    if kind == NUMBER:  # a bare year ("in 2019", "the 1970s") is a date: news writes counts of 1,000 with a comma
        matches = [m for m in _NUMBER.finditer(sentence) if not _YEAR.fullmatch(m.group().rstrip("., "))]
    elif kind == DATE:
        matches = list(_DATE.finditer(sentence))
    elif kind == PLACE:
        return tuple(m.span(1) for m in _PLACE.finditer(sentence))
    elif kind in (COUNTRY, STATE):
        return tuple(places.find(sentence, kind))
    elif kind == PERSON:
        return tuple(span for span in _names(sentence, common) if not _in_quotes(sentence, span[0]))
    else:
        return tuple(_names(sentence, common))
    return tuple((m.start(), m.start() + len(m.group().rstrip("., "))) for m in matches)


def _in_quotes(sentence: str, at: int) -> bool:
    """Whether a position lies inside quotation marks: news quotes the titles of films, shows and books."""
    before = sentence[:at]
    return before.rfind("“") > before.rfind("”") or before.count('"') % 2 == 1


_TITLES = frozenset(
    "President Prime Minister Premier Chancellor Secretary Gov Governor Sen Senator Rep Representative Mayor "
    "King Queen Prince Princess Pope Judge Justice Gen General Coach Dr Mr Mrs Ms Sir Dame Lord Lady CEO Chief "
    "Director Producer Star Actor Actress Singer Rapper Leader Nominee Former Late".split()
)


def full_name(surname: str, article: str) -> str | None:
    """The first and last name an article gives someone it then calls by surname alone ("Steven
    Spielberg" … "Spielberg has now produced 11 films"): news names a person in full once."""
    if " " in surname or not surname[:1].isupper():
        return None
    for match in re.finditer(rf"\b([A-Z][\w’'-]+)\s+{re.escape(surname)}\b", article):
        first = match.group(1)
        if (
            first != surname
            and first not in _TITLES
            and first not in _NOT_NAMES
            and first.lower() not in lowercase_words(article)
        ):
            return f"{first} {surname}"
    return None


def refers_back(question: str, sentence: str) -> bool:
    """Whether the sentence speaks of what a "which X" question asks for as "the … X": news names a
    thing once, then refers back to it ("“Squid Game” is coming back. Netflix said the show …")."""
    match = _WHICH_NAME.search(question)
    if match is None:
        return False
    noun = re.escape(match.group(1).lower().removesuffix("s"))
    return re.search(rf"\bthe\s+(?:[\w-]+\s+){{0,4}}{noun}s?\b", sentence, re.I) is not None


def answer_span(
    question: str, sentence: str, kind: str | None = None, common: frozenset[str] = frozenset()
) -> tuple[int, int] | None:
    """The first span of the answer type the question wants that the question does not name itself
    (`common`: the lower-case words of the sentence's article, `lowercase_words`)."""
    kind = kind or answer_type(question)
    if kind is None:
        return None
    asked = _question_words(question)
    for start, end in spans(sentence, kind, common):
        if _new(sentence[start:end], asked):
            return start, end
    return None
