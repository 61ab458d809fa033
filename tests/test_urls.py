"""One article, one key: URL canonicalisation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.web.urls import canonical_url, host_of, outlet_for_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # tracking parameters go, the others stay (sorted)
        ("https://example.com/a?utm_source=x&utm_medium=rss&id=7", "https://example.com/a?id=7"),
        ("https://example.com/a?UTM_Campaign=x", "https://example.com/a"),
        ("https://example.com/a?fbclid=IwAR0&gclid=1&b=2&a=1", "https://example.com/a?a=1&b=2"),
        # fragments go
        ("https://example.com/a#comments", "https://example.com/a"),
        # scheme and host case, http as https
        ("HTTP://WWW.Example.COM/Path/Case", "https://www.example.com/Path/Case"),
        # trailing slashes go, the root stays
        ("https://example.com/news/", "https://example.com/news"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/?", "https://example.com/"),
        # default ports go, others stay
        ("http://example.com:80/a", "https://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        # user info never belongs in a key
        ("https://user:secret@example.com/a", "https://example.com/a"),
        ("//example.com/a", "https://example.com/a"),
        # one spelling for percent-escapes and non-ASCII paths
        ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://example.com/%7Euser/a%2Db", "https://example.com/~user/a-b"),
        ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),  # an escaped slash is not a slash
        # hosts: trailing dot, IDNA, IPv6 literals
        ("https://example.com./a", "https://example.com/a"),
        ("https://Bücher.example/a", "https://xn--bcher-kva.example/a"),
        ("http://[::1]:8080/a", "https://[::1]:8080/a"),
        ("http://[2001:DB8::1]/a", "https://[2001:db8::1]/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_survives_a_bad_port() -> None:
    assert canonical_url("http://Example.com:abc/a") == "https://example.com:abc/a"


def test_variants_of_one_article_share_a_key() -> None:
    variants = [
        "https://www.example.com/news/story-1",
        "http://www.example.com/news/story-1/",
        "https://WWW.EXAMPLE.COM:443/news/story-1?utm_source=twitter#top",
        "https://www.example.com/news/story-1?fbclid=abc&utm_medium=social",
    ]
    assert len({canonical_url(url) for url in variants}) == 1


def test_host_and_outlet() -> None:
    assert host_of("https://WWW.bbc.co.uk/news") == "bbc.co.uk"
    assert outlet_for_url("https://www.bbc.co.uk/news/1") == "BBC"
    assert outlet_for_url("https://edition.cnn.com/x") == "CNN"
    assert outlet_for_url("https://news.local.example/x") == "news.local.example"
    assert outlet_for_url(None) is None


URL_PARTS = st.builds(
    "{}://{}{}{}{}".format,
    st.sampled_from(["http", "https", "HTTP"]),
    st.sampled_from(["example.com", "WWW.Example.com.", "example.com:8080", "[::1]", "bücher.example", "a.b:443"]),
    st.text(alphabet="/abcAB%7e2f é~-._", max_size=20).map(lambda path: "/" + path),
    st.sampled_from(["", "?a=1", "?utm_source=x&b=2", "?q=a+b%20c", "?x=%zz&x=", "?"]),
    st.sampled_from(["", "#frag", "#"]),
)


@settings(max_examples=60, deadline=None)
@given(URL_PARTS)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once
    assert "utm_" not in once
