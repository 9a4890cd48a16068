"""Input the API and the CSV importer refuse with a field-level message: sender addresses that
are markup or carry line breaks, timestamps before the account's history, bodies of white
space only."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from inquiries import models as m
from inquiries.ingestion import addresses
from inquiries.ingestion.addresses import sender_error
from tests.api.test_messages_api import payload, post
from tests.test_import_commands import run


@pytest.mark.parametrize(
    "address",
    [
        "<script>alert(1)</script>",
        "<b>buyer</b>@example.com",
        "buyer@example.com\r\nBcc: everyone@example.com",
        "Buyer <buyer@example.com>",
        '"quoted"@example.com',
        "two words",
        "a@b@example.com",
        "buyer@localhost",
        "x" * 321,
    ],
)
def test_a_sender_address_that_is_not_an_address_or_alias_is_a_field_error(api, channel, address):
    response = post(api, payload(sender={"address": address, "name": "Buyer"}))

    assert response.status_code == 400
    assert "address" in response.json()["sender"]
    assert m.Message.objects.count() == 0


@pytest.mark.parametrize(
    "address",
    [
        "buyer@example.com",
        "Jane.Doe+shop@mail.example.co.uk",
        "115712",
        "amzn1.buyer.A1B2C3",
        "ünï@exämple.de",
    ],
)
def test_addresses_and_buyer_aliases_are_accepted(address):
    assert sender_error(address) is None


def test_a_sender_name_with_a_line_break_is_a_field_error(api, channel):
    response = post(api, payload(sender={"address": "buyer@example.com", "name": "Buyer\r\nBcc: x"}))

    assert response.status_code == 400 and "name" in response.json()["sender"]


@pytest.mark.parametrize("body", [{"body_text": "   \n\t "}, {"body_text": "", "body_html": "<p> </p><br>"}])
def test_a_body_of_white_space_only_is_a_field_error(api, channel, body):
    response = post(api, payload(**body))

    assert response.status_code == 400 and "body_text" in response.json()


def test_a_received_at_before_2000_is_a_field_error(api, channel):
    response = post(api, payload(received_at="1970-01-01T00:00:00Z"))

    assert response.status_code == 400 and "received_at" in response.json()


def test_a_received_at_before_the_accounts_history_start_is_a_field_error(api, channel):
    m.Account.objects.filter(pk=channel.account_id).update(history_starts_on=date(2025, 1, 1))

    early = post(api, payload(external_id="early", received_at="2024-12-31T23:00:00Z"))
    inside = post(api, payload(external_id="inside", received_at="2025-01-01T00:00:00Z"))

    assert early.status_code == 400 and "history starts (2025-01-01)" in early.json()["received_at"][0]
    assert inside.status_code == 201


def test_csv_rows_with_markup_for_an_address_are_refused_by_line(tmp_path: Path, channel):
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        "external_id,direction,sender_address,subject,body,received_at\n"
        "c1,inbound,a@example.com,Late parcel,Where is it?,2026-03-02T10:00:00+00:00\n"
        "c2,inbound,<img src=x onerror=alert(1)>,Broken,Body,2026-03-02T11:00:00+00:00\n",
        encoding="utf-8",
    )

    code, out, err = run("import_csv", str(csv_file), "--channel", channel.slug)

    assert code == 1
    assert "imported=1" in out and "rejected=1" in out
    assert "line 3" in err and "sender_address" in err


_ADDRESS_ALPHABET = "aZ09.-_+!#$%&*/=?^{|}~@"


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.emails(),
        st.text(alphabet=_ADDRESS_ALPHABET, min_size=1, max_size=40),
        st.builds(
            lambda local, host: f"{local}@{host}",
            st.text(alphabet=_ADDRESS_ALPHABET.replace("@", ""), max_size=12),
            st.text(alphabet="ab09-.", max_size=12),
        ),
    )
)
def test_the_quick_check_for_everyday_addresses_agrees_with_the_standard_library_parser(address):
    # sender_error answers a plain dot-atom address without the parser; past the length and
    # character checks its answer must be the parser's, for every string.
    assume("@" in address and len(address) <= addresses.MAX_LENGTH)
    assume(not addresses._FORBIDDEN_RE.search(address))
    assert sender_error(address) == addresses.parser_error(address)


def test_the_quick_check_answers_the_everyday_address():
    assert addresses._PLAIN_RE.fullmatch("jane.doe+shop@mail.example.co.uk")
    assert not addresses._PLAIN_RE.fullmatch("jane..doe@example.com")
