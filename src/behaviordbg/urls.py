"""Endpoint URLs: checked before use, redacted before they are stored or printed.

Redaction is generic, not a list of secret-looking names: every query-parameter value, any
userinfo (`user:password@`) and any fragment is replaced by `***`, because a URL may carry a
secret under any name (`?code=`, `?auth=`, `?sig=`...). Only scheme, host, port, path and the
parameter *names* survive. `url_secrets` lists the values that were removed, so a client can also
scrub them from error text a server echoes back.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from .errors import BehaviordbgError

SCHEMES = ("http", "https")


def redact_url(url: str) -> str:
    """The URL without credentials: userinfo, every query value and the fragment become `***`.

    Never raises: text that is not a URL at all comes back as `***` (it may be a secret pasted in
    the wrong place)."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "***"
    netloc = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    if port:
        netloc = f"{netloc}:{port}"
    if "@" in parts.netloc:
        netloc = f"***@{netloc}"
    query = parts.query
    if query:
        query = "&".join(f"{pair.split('=', 1)[0]}=***" if pair else pair
                         for pair in query.split("&"))
    fragment = "***" if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def url_secrets(url: str | None) -> list[str]:
    """The values `redact_url` hides (userinfo parts and their Basic-auth form, query values,
    fragment), longest first, so text that echoes them can be scrubbed too. Values shorter than 4 characters are left out:
    scrubbing `1` or `en` from error text would only garble it."""
    if not url:
        return []
    try:
        parts = urlsplit(str(url))
        found = [parts.username, parts.password, parts.fragment]
        found += [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
    except ValueError:
        return [str(url)] if len(str(url)) >= 4 else []
    out: set[str] = set()
    for value in found:
        if value and len(value) >= 4:
            out.update({value, unquote(value)})
    if parts.username or parts.password:  # what HTTP Basic auth sends for user:password@
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        out.add(base64.b64encode(pair.encode()).decode())
    return sorted(out, key=len, reverse=True)


def scrub(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """`text` with every secret replaced by `***` (longest first, so no part of one survives)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


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
