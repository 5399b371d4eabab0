"""Endpoint URLs: checked before use, redacted before they are stored or printed."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from .errors import BehaviordbgError

SCHEMES = ("http", "https")


def redact_url(url: str) -> str:
    """Drop user:password@ from a URL and blank secret-looking query parameters. Never raises:
    text that is not a URL at all comes back as `***`."""
    try:
        parts = urlsplit(str(url))
        netloc = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "***"
    if ":" in netloc:  # IPv6 literal: keep its brackets
        netloc = f"[{netloc}]"
    if port:
        netloc = f"{netloc}:{port}"
    if parts.username or parts.password:
        netloc = f"***@{netloc}"
    query = parts.query
    if query:
        kept = []
        for pair in query.split("&"):
            key = pair.split("=", 1)[0]
            if any(s in key.lower() for s in ("key", "token", "secret", "password", "sig")):
                kept.append(f"{key}=***")
            else:
                kept.append(pair)
        query = "&".join(kept)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_base_url(url: str, option: str = "--base-url") -> str:
    """An OpenAI-compatible endpoint URL, or a BehaviordbgError saying what is wrong with it.

    Catches what would otherwise be retried per query and end as "0 answered": no scheme
    (`127.0.0.1:8000/v1`), another scheme (`ftp://`), no host, an unparsable URL (`http://[::1`).
    """
    text = str(url).strip()
    example = "http://127.0.0.1:8000/v1 or https://api.openai.com/v1"
    try:
        parts = urlsplit(text)
        host, _ = parts.hostname, parts.port
    except ValueError as err:
        shown = f"***@{text.rsplit('@', 1)[1]}" if "@" in text else text.split("?", 1)[0]
        raise BehaviordbgError(
            f"{option} {shown!r} is not a valid URL ({err})",
            hint=f"pass the endpoint as a full URL, e.g. {example}",
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.netloc:
        if scheme in SCHEMES or "://" in text:
            what = f"has scheme {scheme!r}" if scheme not in SCHEMES else "has no host"
        else:
            what = "has no scheme"
        guess = text if "://" in text else f"http://{text}"
        hint = f"use http:// or https://, e.g. {example}"
        if what == "has no scheme":
            hint = f"add the scheme: {option} {redact_url(guess)}"
        raise BehaviordbgError(f"{option} {redact_url(text)!r} {what}", hint=hint)
    if not host:
        raise BehaviordbgError(f"{option} {redact_url(text)!r} has no host",
                               hint=f"pass the endpoint as a full URL, e.g. {example}")
    return text
