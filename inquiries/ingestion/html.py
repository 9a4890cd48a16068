"""Make customer HTML safe to show, and turn it into plain text.

Customer HTML is hostile by default: scripts, event handlers, `javascript:` links, CSS
tricks and remote images (tracking pixels that tell the sender when an agent opened the
mail). `sanitize_html()` keeps formatting, tables, lists and links only; `html_to_text()`
gives a readable plain-text rendering for HTML-only mail. No Django import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup",
        "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
        "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strike",
        "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
    }
)  # fmt: skip

# No `style`, `class` or `id` anywhere: CSS can overlay our UI or load remote resources,
# and ids could clobber our page's own elements.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start"},
    "font": {"color"},
}

# `cid:` points at an attachment of the same mail; everything else a link may need.
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})
LINK_REL = "noopener noreferrer nofollow"

# Lone surrogates (undecodable bytes kept by a lenient decoder) cannot cross into nh3.
_SURROGATES_RE = re.compile("[\ud800-\udfff]")

# Their content is code or metadata, never text for a human.
_DROPPED_CONTENT_TAGS = frozenset({"script", "style", "title", "template", "noscript", "textarea", "select"})


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    # An image may only show an attachment of the mail itself: any other source (http,
    # protocol-relative "//host", data:) is a remote load or an opaque blob.
    if tag == "img" and attribute == "src":
        return value if value.strip().lower().startswith("cid:") else None
    return value


# html5ever's tree building costs time in proportion to the depth of open elements for each
# new one, so nesting makes parsing quadratic: 20,000 nested <div>s took 2 s, 120,000 over
# 300 s. Real mail nests a few dozen levels; past MAX_DEPTH the tags are dropped and their
# text kept, before any parser sees the markup. MAX_HTML_CHARS bounds the rest linearly.
MAX_DEPTH = 200
MAX_HTML_CHARS = 2_000_000
_TAG_OPEN_RE = re.compile(r"<(/?)([A-Za-z][^\t\n\f\r />]*)")
# One attribute (or the tag's end) as HTML's tokenizer reads it: a quote opens a value only
# after "=", so `<div a"b>` is one tag, and an unclosed quoted value runs to the end.
_ATTRIBUTE_RE = re.compile(
    r"""[\t\n\f\r /]*(?:(>)|[^\t\n\f\r />][^\t\n\f\r />=]*[\t\n\f\r ]*"""
    r"""(?:=[\t\n\f\r ]*(?:"[^"]*"?|'[^']*'?|[^\t\n\f\r >]*))?)"""
)
_RAW_TEXT_TAGS = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"})
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
     "track", "wbr", "keygen", "frame", "basefont", "bgsound", "image", "isindex"}
)  # fmt: skip
# A start tag of these closes an open one of the same name (HTML's optional end tags), so
# "<p>a<p>b" is two paragraphs side by side, not one inside the other.
_SELF_CLOSING_SIBLINGS = frozenset(
    {
        "p",
        "li",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "option",
        "optgroup",
        "thead",
        "tbody",
        "tfoot",
        "rb",
        "rt",
        "rp",
    }
)


@dataclass(frozen=True)
class BoundedHtml:
    html: str
    notes: tuple[str, ...]


def _tags(html: str) -> Iterator[tuple[int, int, bool, str]]:
    """(start, end, closing, name) of each tag, skipping comments and raw-text content; linear."""
    position = 0
    length = len(html)
    while True:
        start = html.find("<", position)
        if start < 0:
            return
        if html.startswith("<!--", start):
            close = html.find("-->", start + 4)
            if close < 0:
                return
            position = close + 3
            continue
        opened = _TAG_OPEN_RE.match(html, start)
        if opened is None:
            position = start + 1
            continue
        cursor = opened.end()
        while True:
            attribute = _ATTRIBUTE_RE.match(html, cursor)
            if attribute is None or attribute.end() == cursor:
                return  # the tag runs to the end of the input: no further tags
            cursor = attribute.end()
            if attribute.group(1):
                break
            if cursor >= length:
                return
        closing, name = bool(opened.group(1)), opened.group(2).lower()
        yield start, cursor, closing, name
        position = cursor
        if not closing and name in _RAW_TEXT_TAGS:
            close = _find_ci(html, f"</{name}", cursor)
            if close < 0:
                return
            position = close


def _find_ci(html: str, needle: str, start: int) -> int:
    found = re.compile(re.escape(needle), re.IGNORECASE).search(html, start)
    return -1 if found is None else found.start()


def bound_html(html: str) -> BoundedHtml:
    """Cut `html` to what the parsers handle in linear time: at most MAX_HTML_CHARS
    characters, and tags nested deeper than MAX_DEPTH dropped (their text is kept). Linear
    in the input; what was changed is said in `notes`."""
    notes: list[str] = []
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
        notes.append(f"HTML cut at {MAX_HTML_CHARS:,} characters; the rest is only in the raw message")
    stack: list[str] = []
    dropped = 0
    pieces: list[str] = []
    position = 0
    for start, end, closing, name in _tags(html):
        if name in _VOID_TAGS:
            continue
        keep = True
        if closing:
            if dropped:
                dropped -= 1
                keep = False
            elif name in stack:
                while stack.pop() != name:
                    pass
        else:
            if not dropped and stack and name in _SELF_CLOSING_SIBLINGS and stack[-1] == name:
                stack.pop()
            if len(stack) >= MAX_DEPTH:
                dropped += 1
                keep = False
            else:
                stack.append(name)
        if not keep:
            pieces.append(html[position:start])
            position = end
    if pieces:
        pieces.append(html[position:])
        html = "".join(pieces)
        notes.append(
            f"HTML nested over {MAX_DEPTH} levels deep: the deeper tags were removed, their text kept"
        )
    return BoundedHtml(html=html, notes=tuple(notes))


def _prepare(html: str) -> str:
    return bound_html(_SURROGATES_RE.sub("\ufffd", html.replace("\x00", ""))).html


def sanitize_html(html: str) -> str:
    """Return `html` with only safe markup left; safe to render unescaped in our pages.

    Keeps common formatting, tables, lists, links (with rel="noopener noreferrer nofollow")
    and images whose src is a `cid:` reference. Drops scripts and styles with their
    content, every event handler and style attribute, `javascript:`/`data:` and relative
    URLs (a relative link would point into our own application), and remote image sources.
    """
    return nh3.clean(
        _prepare(html),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROPPED_CONTENT_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",
        link_rel=LINK_REL,
        strip_comments=True,
    )


_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "center", "dd", "div", "dl",
        "dt", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p",
        "pre", "section", "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
# These start a new line but need no blank line after them.
_LINE_TAGS = frozenset({"br", "dd", "dt", "li", "tr"})
_CELL_TAGS = frozenset({"td", "th"})
# Everything html_to_text() looks at; the rest is unwrapped to its text by nh3 first.
_TEXT_STRUCTURE_TAGS = _BLOCK_TAGS | _CELL_TAGS
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    """Collects text, turning block boundaries into line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._pre_depth = 0
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_CONTENT_TAGS:
            self._skip_depth += 1
        elif tag == "li":
            self.chunks.append("\n- ")
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")
        elif tag in _CELL_TAGS:
            self.chunks.append(" ")
        if tag == "pre":
            self._pre_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_CONTENT_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS and tag not in _LINE_TAGS:
            self.chunks.append("\n")
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            # Preformatted text keeps its own line breaks; a marker keeps them out of
            # the whitespace collapsing below.
            self.chunks.append(data.replace("\n", "\x00"))
        else:
            self.chunks.append(_SPACES.sub(" ", data))


def html_to_text(html: str) -> str:
    """Return a plain-text rendering of `html` for reading and searching.

    Block elements and `<br>` become line breaks, list items start with "- ", table
    cells are separated by spaces, script/style/title content is dropped, entities are
    unescaped and runs of whitespace collapse (except inside `<pre>`). Never raises on
    malformed markup.
    """
    # html5ever (via nh3) first turns any tag soup into well-formed markup with only the
    # tags we care about, so the stdlib parser never meets the constructs it chokes on
    # (e.g. unknown "<![" marked sections raise AssertionError in html.parser).
    normalised = nh3.clean(
        _prepare(html),
        tags=set(_TEXT_STRUCTURE_TAGS),
        clean_content_tags=set(_DROPPED_CONTENT_TAGS),
        attributes={},
        link_rel=None,
        strip_comments=True,
    )
    extractor = _TextExtractor()
    extractor.feed(normalised)
    extractor.close()
    lines = []
    for line in "".join(extractor.chunks).split("\n"):
        if "\x00" in line:
            lines.append(line.replace("\x00", "\n"))
        else:
            lines.append(line.strip())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
