"""Hypothesis fuzz of the URL guard and of the embed builders (issue 10)."""

from __future__ import annotations

import ipaddress
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import embeds
from bot.answer import Answer, Citation
from index.store.rows import ArticleRow
from index.web.netguard import Allow, address_problem, host_problem, literal_address, parse_allow

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INTERNAL = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


@st.composite
def internal_ipv4(draw: st.DrawFn) -> ipaddress.IPv4Address:
    network = draw(st.sampled_from(INTERNAL))
    return ipaddress.IPv4Address(int(network.network_address) + draw(st.integers(0, network.num_addresses - 1)))


def spellings(address: ipaddress.IPv4Address) -> list[str]:
    """The ways a URL can write one IPv4 address that a resolver reads back as it."""
    value, octets = int(address), address.packed
    return [
        str(address),
        str(value),
        hex(value),
        "0x%08X" % value,
        ".".join(f"0{b:o}" for b in octets),
        f"{octets[0]}.{int.from_bytes(octets[1:], 'big')}",
        f"[::ffff:{address}]",
        f"[::ffff:{value >> 16:x}:{value & 0xFFFF:x}]",
    ]


@FUZZ
@given(internal_ipv4(), st.data())
def test_every_spelling_of_an_internal_ipv4_address_is_refused(
    address: ipaddress.IPv4Address, data: st.DataObject
) -> None:
    spelled = data.draw(st.sampled_from(spellings(address)))
    assert literal_address(spelled) is not None
    assert ipaddress.ip_address(str(address)) == _v4(literal_address(spelled))
    problem = host_problem(spelled, Allow())
    assert problem is not None
    assert problem.endswith(" address"), problem  # "… is a loopback address", "… is not a public address", …


def _v4(address: object) -> object:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@FUZZ
@given(st.ip_addresses())
def test_an_address_is_refused_exactly_when_it_is_not_global(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    inner = _v4(address)
    public = inner.is_global and not inner.is_multicast
    if address_problem(address) is None:
        assert public
    elif isinstance(address, ipaddress.IPv4Address) or address.ipv4_mapped:
        assert not public


@FUZZ
@given(internal_ipv4())
def test_an_allowed_network_lets_its_addresses_through(address: ipaddress.IPv4Address) -> None:
    allow = parse_allow([f"{address}/32"])
    assert all(host_problem(spelled, allow) is None for spelled in spellings(address))


@FUZZ
@given(st.text())
def test_host_problem_never_raises(host: str) -> None:
    host_problem(host, Allow())


# --- embeds ---------------------------------------------------------------------------------------

PIECES = list("[]()<>@#:/\\*_~|`-!&t a\n\u200b\u202e\u2066\ufeff") + [
    "https://evil.example/x",
    "@everyone",
    "@here",
    "</cmd:1>",
    "<t:1:R>",
    "<#12345678901234567>",
    "<@&1>",
    "[x](https://evil.example)",
]
HOSTILE = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
LIVE_LINK = re.compile(r"(?<!\\)\[(?:\\.|[^\[\]\\])*(?<!\\)\]\((?!https://ours\.example/)")
MENTION = re.compile(r"(?<!\\)<(?:[@#/]|t:|a?:)")
BARE_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://")


def assert_inert(text: str) -> None:
    assert not LIVE_LINK.search(text), text
    assert not MENTION.search(text), text
    assert not re.search(r"(?i)@(everyone|here)", text), text
    assert not BARE_URL.search(text.replace("](https://ours.example/", "]( ")), text
    assert not re.search("[\u202a-\u202e\u2066-\u2069\ufeff]", text), text


def embed_texts(embed: object) -> list[str]:
    """The parts Discord renders Markdown in; footers render none, so only invisible characters matter there."""
    data = embed.to_dict()  # type: ignore[attr-defined]
    assert not re.search("[\u202a-\u202e\u2066-\u2069\ufeff]", data.get("footer", {}).get("text", ""))
    texts = [data.get("title", ""), data.get("description", "")]
    return texts + [f["name"] + "\n" + f["value"] for f in data.get("fields", [])]


@FUZZ
@given(HOSTILE, HOSTILE, HOSTILE, HOSTILE)
def test_answer_embeds_are_inert_whatever_the_archive_holds(
    question: str, sentence: str, title: str, outlet: str
) -> None:
    citation = Citation(
        n=1,
        title=title,
        url="https://ours.example/a",
        outlet=outlet,
        published="2022-02-07T00:00:00+00:00",
        quote=sentence,
        also_in=[outlet],
    )
    answer = Answer(
        question=question,
        quotes=[(sentence, 1), (sentence + title, 1)],
        citations=[citation],
        abstained=False,
        filters={"outlets": [outlet]},
    )
    for text in embed_texts(embeds.answer_embed(answer)):
        assert_inert(text)


@FUZZ
@given(HOSTILE, HOSTILE, st.lists(HOSTILE, max_size=3))
def test_article_and_list_embeds_are_inert(title: str, text: str, authors: list[str]) -> None:
    row = ArticleRow(
        id=1,
        key="k",
        title=title,
        url="https://ours.example/b",
        outlet=text[:40],
        published=None,
        text=text,
        authors=tuple(authors),
    )
    for embed in (embeds.article_embed(row), embeds.recent_embed([row, row]), embeds.announcement_embed([row], more=2)):
        for shown in embed_texts(embed):
            assert_inert(shown)


@FUZZ
@given(HOSTILE)
def test_escape_is_inert_and_keeps_the_visible_text(text: str) -> None:
    shown = embeds.escape(text)
    assert_inert(shown)
    unescaped = re.sub(r"\\(.)", r"\1", shown).replace("\u2060", "").replace("@\u200b", "@")
    assert unescaped == embeds.one_line(embeds.visible(text))
