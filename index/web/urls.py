"""URL canonicalisation and outlet names, so one article has one key."""

from __future__ import annotations

import contextlib
import re
import string
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

# RFC 3986 unreserved characters: escaping them changes nothing, so "%7E" and "~" are one URL.
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")

TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_")
TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "yclid",
    "igshid",
    "ref",
    "ref_src",
    "cmpid",
    "cmp",
    "ocid",
    "smid",
    "mbid",
    "sr_share",
    "_ga",
    "share",
    "s_cid",
}

KNOWN_OUTLETS = {
    "themoscowtimes.com": "The Moscow Times",
    "cnn.com": "CNN",
    "edition.cnn.com": "CNN",
    "usatoday.com": "USA Today",
    "theweek.co.uk": "The Week",
    "theweek.com": "The Week",
    "reuters.com": "Reuters",
    "apnews.com": "AP News",
    "bbc.co.uk": "BBC",
    "bbc.com": "BBC",
    "nytimes.com": "The New York Times",
    "theguardian.com": "The Guardian",
    "washingtonpost.com": "The Washington Post",
    "aljazeera.com": "Al Jazeera",
    "france24.com": "France 24",
    "dw.com": "DW",
    "npr.org": "NPR",
    "ft.com": "Financial Times",
    "bloomberg.com": "Bloomberg",
    "wsj.com": "The Wall Street Journal",
}


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")


def strip_credentials(url: str) -> str:
    """The URL without any `user:password@`, which must be neither stored nor shown."""
    return _USERINFO.sub(r"\1", url) if "@" in url else url


def redact_credentials(text: str) -> str:
    """Text with the `user:password@` of every URL in it removed."""
    return _USERINFO.sub(r"\1", text) if "@" in text else text


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop tracking parameters, fragment, default port, trailing slash."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    if scheme == "http":
        scheme = "https"  # the same page is served on both; https is what outlets link to
    path = _normal_escapes(parts.path).rstrip("/") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    return urlunsplit((scheme, _canonical_netloc(parts), path, urlencode(sorted(query)), ""))


def _canonical_netloc(parts: SplitResult) -> str:
    """Host (IDNA, no trailing dot, IPv6 in brackets) and any non-default port; no user info."""
    host = (parts.hostname or "").rstrip(".")
    with contextlib.suppress(UnicodeError):  # not a name IDNA encodes (IPv6, a stray character): as is
        host = host.encode("idna").decode("ascii")
    host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # "host:abc": keep what was written rather than fail on one bad link
        return parts.netloc.rpartition("@")[2].lower()
    return f"{host}:{port}" if port and port not in (80, 443) else host


def _normal_escapes(path: str) -> str:
    """Percent-escapes in one spelling: non-ASCII escaped, hex upper-case, unreserved ones decoded."""
    escaped = quote(path, safe="/%:@!$&'()*+,;=~")
    return _ESCAPE.sub(_normal_escape, escaped)


def _normal_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else match.group(0).upper()


def host_of(url: str) -> str:
    """The host without a leading www."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def outlet_for_url(url: str | None) -> str | None:
    """A known outlet's name for the URL's host (or a parent domain), else the bare host."""
    if not url:
        return None
    host = host_of(url)
    labels = host.split(".")
    for i in range(len(labels) - 1):
        name = KNOWN_OUTLETS.get(".".join(labels[i:]))
        if name:
            return name
    return host or None
