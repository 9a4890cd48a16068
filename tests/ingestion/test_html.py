"""sanitize_html() keeps formatting and drops anything active; html_to_text() reads like a mail."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inquiries.ingestion.html import html_to_text, sanitize_html

ACTIVE_MARKUP_RE = re.compile(
    r"<script|<style|<iframe|<object|<embed|<form|\son\w+\s*=|javascript:", re.IGNORECASE
)


def test_scripts_are_removed_with_their_content() -> None:
    assert sanitize_html("<p>Hi<script>steal(document.cookie)</script></p>") == "<p>Hi</p>"


def test_event_handlers_and_style_attributes_are_removed() -> None:
    html = '<p style="position:fixed" onclick="x()">Hi <b onmouseover="y()">there</b></p>'

    assert sanitize_html(html) == "<p>Hi <b>there</b></p>"


def test_an_image_error_handler_is_removed() -> None:
    assert "onerror" not in sanitize_html('<img src="x" onerror="alert(1)">')


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>x</script>",
    ],
)
def test_script_and_data_links_lose_their_target(href: str) -> None:
    cleaned = sanitize_html(f'<a href="{href}">click</a>')

    assert "href" not in cleaned
    assert "click" in cleaned


def test_links_keep_their_target_and_get_a_safe_rel() -> None:
    cleaned = sanitize_html('<a href="https://shop.example/track?id=1" target="_top" rel="opener">track</a>')

    assert cleaned == '<a href="https://shop.example/track?id=1" rel="noopener noreferrer nofollow">track</a>'


def test_relative_links_that_would_point_into_our_app_are_dropped() -> None:
    assert "href" not in sanitize_html('<a href="/admin/logout">here</a>')


@pytest.mark.parametrize(
    "src",
    [
        "https://tracker.example/pixel.gif",
        "http://tracker.example/pixel.gif",
        "//tracker.example/pixel.gif",
        "data:image/png;base64,iVBORw0KGgo=",
        "/local.png",
    ],
)
def test_remote_and_inline_data_images_lose_their_source(src: str) -> None:
    assert sanitize_html(f'<img src="{src}" alt="logo">') == '<img alt="logo">'


def test_images_from_the_mail_itself_are_kept() -> None:
    assert sanitize_html('<img src="cid:part1.abc@example">') == '<img src="cid:part1.abc@example">'


def test_formatting_tables_and_lists_are_kept() -> None:
    html = (
        '<h2>Order</h2><table><tr><th>Item</th><td colspan="2">Mug</td></tr></table>'
        "<ul><li><i>one</i></li></ul><blockquote>quoted</blockquote>"
    )

    assert sanitize_html(html) == html.replace("<table><tr>", "<table><tbody><tr>").replace(
        "</tr></table>", "</tr></tbody></table>"
    )


def test_frames_forms_and_embeds_are_removed() -> None:
    html = (
        '<iframe src="https://x"></iframe><form action="https://x"><input name=a></form><object></object>ok'
    )

    assert sanitize_html(html) == "ok"


def test_text_keeps_paragraphs_lists_and_table_rows_on_their_own_lines() -> None:
    html = (
        "<h1>Hello&nbsp;there</h1><p>Para   one\n spans</p>"
        "<ul><li>a</li><li>b &amp; c</li></ul>"
        "<table><tr><td>x</td><td>y</td></tr><tr><td>z</td></tr></table>"
        "tail<br>next"
    )

    assert html_to_text(html) == "Hello there\n\nPara one spans\n\n- a\n- b & c\n\nx y\nz\n\ntail\nnext"


def test_text_drops_script_style_and_title_content() -> None:
    html = "<html><head><title>T</title><style>p{}</style></head><body>Hi<script>x()</script></body></html>"

    assert html_to_text(html) == "Hi"


def test_text_keeps_preformatted_spacing() -> None:
    assert html_to_text("<p>Log:</p><pre>  line 1\n    line 2</pre>") == "Log:\n\n  line 1\n    line 2"


def test_text_survives_markup_the_stdlib_parser_chokes_on() -> None:
    assert html_to_text("<![foo[ bar ]]><p>still here</p><!--unclosed") == "still here"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' !-[]abcdefgijlmnoprstx:&#;\n\x00")) | st.characters()))
def test_any_input_is_sanitised_without_errors_or_active_markup(html: str) -> None:
    cleaned = sanitize_html(html)
    text = html_to_text(html)

    assert not ACTIVE_MARKUP_RE.search(cleaned)
    assert "\x00" not in cleaned and "\x00" not in text
