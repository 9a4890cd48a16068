"""parse_csv(): good rows, line numbers, every kind of bad row, mappings and presets."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from datetime import UTC as _UTC
from datetime import datetime as _dt
from datetime import time as _time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from inquiries.ingestion.csv_import import (
    CSV_PRESETS,
    MAX_BODY_BYTES,
    Reading,
    open_csv,
    parse_csv,
    parse_mapping,
    parse_value_maps,
    read_timestamp,
)
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected

HEADER = "external_id,direction,sender_address,sender_name,subject,body,received_at,order_id,sku,automatic\n"


def rows(text: str, **options: object) -> list[tuple[int, IncomingMessage | Rejected]]:
    return list(parse_csv(io.StringIO(text, newline=""), **options))  # type: ignore[arg-type]


def only_message(text: str, **options: object) -> IncomingMessage:
    [(_, result)] = rows(text, **options)
    assert isinstance(result, IncomingMessage), result
    return result


def test_a_good_row_becomes_an_incoming_message() -> None:
    text = HEADER + (
        "amz-1,inbound,Buyer@Marketplace.Amazon.com,Ann Buyer,Broken lid,The lid is cracked,"
        "2024-05-02T08:15:00+02:00,111-2223334-4445556,MUG-01,no\n"
    )

    message = only_message(text)

    assert message == IncomingMessage(
        external_id="amz-1",
        direction=Direction.INBOUND,
        sender_address="buyer@marketplace.amazon.com",
        sender_name="Ann Buyer",
        subject="Broken lid",
        body_text="The lid is cracked",
        received_at=datetime(2024, 5, 2, 6, 15, tzinfo=UTC),
        order_id="111-2223334-4445556",
        sku="MUG-01",
    )


def test_optional_columns_may_be_left_out_and_defaults_apply() -> None:
    message = only_message("external_id,body_text\nz-9,Hello\n", default_direction="note")

    assert (message.external_id, message.body_text, message.direction) == ("z-9", "Hello", Direction.NOTE)
    assert message.received_at is None
    assert message.automatic is False


@pytest.mark.parametrize(
    ("value", "direction"),
    [
        ("Outbound", Direction.OUTBOUND),
        ("seller", Direction.OUTBOUND),
        ("note", Direction.NOTE),
        ("", Direction.INBOUND),
    ],
)
def test_direction_values_are_read_case_insensitively(value: str, direction: Direction) -> None:
    assert only_message(f"external_id,direction\nx,{value}\n").direction == direction


@pytest.mark.parametrize(
    ("value", "expected"), [("TRUE", True), ("1", True), ("yes", True), ("0", False), ("", False)]
)
def test_automatic_accepts_the_usual_spellings(value: str, expected: bool) -> None:
    message = only_message(f"external_id,automatic\nx,{value}\n")

    assert message.automatic is expected
    assert bool(message.automatic_reason) is expected


def test_rows_report_the_line_they_start_on_even_after_multi_line_fields() -> None:
    text = 'external_id,body\na,"first line\nsecond line\nthird line"\n\nb,"one\r\ntwo"\nc,plain\n'

    result = rows(text)

    assert [line for line, _ in result] == [2, 6, 8]
    assert result[0][1].body_text == "first line\nsecond line\nthird line"  # type: ignore[union-attr]


def test_a_naive_timestamp_is_read_in_the_default_time_zone() -> None:
    text = "external_id,received_at\nw,2024-07-01 09:00:00\nx,2024-01-15T09:00\n"

    summer, winter = (m for _, m in rows(text, default_tz="Europe/Berlin"))

    assert summer.received_at == datetime(2024, 7, 1, 7, 0, tzinfo=UTC)  # type: ignore[union-attr]
    assert winter.received_at == datetime(2024, 1, 15, 8, 0, tzinfo=UTC)  # type: ignore[union-attr]


def test_a_utc_z_suffix_is_accepted() -> None:
    message = only_message("external_id,received_at\nx,2024-07-01T09:00:00Z\n")

    assert message.received_at == datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


def test_a_far_future_timestamp_is_left_for_the_service_to_judge() -> None:
    message = only_message("external_id,received_at\nx,2999-01-01T00:00:00+00:00\n")

    assert message.received_at == datetime(2999, 1, 1, tzinfo=UTC)


def test_nul_bytes_are_removed() -> None:
    message = only_message("external_id,subject,body\nx\x00y,sub\x00ject,bo\x00dy\n")

    assert (message.external_id, message.subject, message.body_text) == ("xy", "subject", "body")


def test_body_html_is_sanitised_and_gives_the_text_body() -> None:
    text = 'external_id,body_html\nh,"<p onclick=""x()"">Hi <script>evil()</script><b>there</b></p>"\n'

    message = only_message(text)

    assert message.body_html == "<p>Hi <b>there</b></p>"
    assert message.body_text == "Hi there"


def test_an_amazon_order_number_in_the_subject_fills_a_missing_order_id() -> None:
    message = only_message("external_id,subject\nx,Return for order 205-1234567-7654321\n")

    assert message.order_id == "205-1234567-7654321"


def test_in_reply_to_loses_its_angle_brackets() -> None:
    assert only_message("external_id,in_reply_to\nx,<abc@example.com>\n").in_reply_to == "abc@example.com"


GOOD_ROW = {
    "external_id": "x",
    "direction": "",
    "sender_address": "a@example.com",
    "sender_name": "",
    "subject": "",
    "body": "hi",
    "received_at": "2024-01-01T00:00:00Z",
    "order_id": "",
    "sku": "",
    "automatic": "",
}


def row(**changes: str) -> str:
    return ",".join({**GOOD_ROW, **changes}.values())


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (row(external_id=""), "external_id: required"),
        (row(direction="sideways"), "direction: not inbound, outbound or note: 'sideways'"),
        (row(received_at="yesterday"), "received_at: not a timestamp this import reads"),
        (row(received_at="2024-01-01"), "received_at: a date without a time of day (give --default-time"),
        (row(received_at=""), "received_at: empty"),
        (row(automatic="maybe"), "automatic: not true/false, 1/0 or yes/no: 'maybe'"),
        (row(subject="s" * 999), "subject: longer than 998 characters (999)"),
        (row(external_id="i" * 256), "external_id: longer than 255 characters"),
        (row(order_id="9" * 101), "order_id: longer than 100 characters"),
        (row(sender_address="a\tb@example.com"), "sender_address: contains control characters"),
        (row() + ",surplus", "expected 10 fields, found 11"),
        (row(body='"hi"there'), "not valid CSV"),
    ],
)
def test_a_bad_row_is_rejected_with_its_line_and_field(line: str, reason: str) -> None:
    """The line number comes beside the rejection, not inside its reason (the importer prints it once)."""
    [(number, result)] = rows(HEADER + line + "\n")

    assert number == 2
    assert isinstance(result, Rejected)
    assert result.reason.startswith(reason), result.reason
    assert "line" not in result.reason


def test_every_error_of_a_row_is_reported_at_once() -> None:
    line = row(external_id="", direction="sideways", received_at="soon", automatic="maybe")

    [(_, result)] = rows(HEADER + line + "\n")

    assert isinstance(result, Rejected)
    assert [part.split(":")[0] for part in result.reason.split("; ")] == [
        "external_id",
        "direction",
        "automatic",
        "received_at",
    ], result.reason


def test_an_over_large_body_is_rejected() -> None:
    body = "x" * (MAX_BODY_BYTES + 1)

    [(_, result)] = rows(f"external_id,body\nx,{body}\n")

    assert isinstance(result, Rejected)
    assert result.reason == "body_text (column 'body'): larger than 1024 KiB"


def test_bad_rows_do_not_stop_the_good_ones_after_them() -> None:
    text = "external_id,received_at\na,2024-01-01T10:00Z\nb,soon\n,2024-01-01T10:00Z\nc,2024-01-02T10:00Z\n"

    result = rows(text)

    assert [(line, type(r).__name__) for line, r in result] == [
        (2, "IncomingMessage"),
        (3, "Rejected"),
        (4, "Rejected"),
        (5, "IncomingMessage"),
    ]


def test_a_rejection_names_their_column_when_it_differs_from_our_field() -> None:
    text = "Message ID,Date\nm1,tomorrow\n"

    [(_, result)] = rows(text, mapping={"external_id": "Message ID", "received_at": "Date"})

    assert isinstance(result, Rejected)
    assert result.reason.startswith("received_at (column 'Date'): not a timestamp this import reads")


def test_a_missing_required_column_is_an_error_before_any_row() -> None:
    with pytest.raises(ValueError, match=r"missing column\(s\): 'external_id' \(for external_id\)"):
        parse_csv(io.StringIO("id,body\n1,hi\n"))


def test_a_mapped_column_missing_from_the_file_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"'Buyer Email' \(for sender_address\)"):
        parse_csv(
            io.StringIO("Message ID\nm1\n"),
            mapping={"external_id": "Message ID", "sender_address": "Buyer Email"},
        )


def test_a_mapped_column_that_appears_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="'Title' appears more than once"):
        parse_csv(io.StringIO("external_id,Title,title\n1,a,b\n"), mapping={"subject": "Title"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mapping": {"colour": "Colour"}}, "unknown field"),
        ({"default_direction": "sideways"}, "default_direction"),
        ({"default_tz": "Mars/Olympus_Mons"}, "default_tz"),
    ],
)
def test_bad_options_are_errors_before_any_row(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_csv(io.StringIO("external_id\n1\n"), **options)  # type: ignore[arg-type]


def test_an_empty_file_is_an_error() -> None:
    with pytest.raises(ValueError, match="no header row"):
        parse_csv(io.StringIO(""))


def test_headers_match_ignoring_case_spaces_and_a_byte_order_mark() -> None:
    message = only_message("\ufeff External_ID , BODY \nx,hello\n")

    assert (message.external_id, message.body_text) == ("x", "hello")


def test_parse_mapping_reads_field_column_pairs() -> None:
    mapping = parse_mapping(" external_id = Message ID , body_text=Message,, ")

    assert mapping == {"external_id": "Message ID", "body_text": "Message"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("external_id", "'external_id': expected field=Column"),
        ("colour=Colour", "unknown field 'colour'"),
        ("external_id=", "empty column name"),
        ("external_id=A,external_id=B", "field 'external_id' given twice"),
    ],
)
def test_parse_mapping_errors_name_the_bad_item(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mapping(spec)


def test_the_cstracker_preset_reads_our_own_columns() -> None:
    text = HEADER + "x,outbound,a@example.com,,,hi,2024-01-01T00:00:00Z,,,\n"

    assert rows(text, mapping=CSV_PRESETS["cstracker"]) == rows(text)


def test_the_amazon_preset_maps_a_buyer_seller_export() -> None:
    text = (
        "Message ID,Order ID,Buyer Name,Buyer Email,Subject,Message,Date,Direction\n"
        "A1B2,113-1111111-2222222,Jo,jo@marketplace.amazon.com,Damaged,It broke,2024-02-03T04:05Z,Buyer\n"
    )

    message = only_message(text, mapping=CSV_PRESETS["amazon"])

    assert (message.external_id, message.order_id, message.sender_address) == (
        "A1B2",
        "113-1111111-2222222",
        "jo@marketplace.amazon.com",
    )
    assert (message.subject, message.body_text, message.direction) == (
        "Damaged",
        "It broke",
        Direction.INBOUND,
    )


def test_the_zendesk_preset_maps_a_ticket_export() -> None:
    text = (
        "Id,Subject,Requester,Requester email,Description,Created at,Status\n"
        '4711,Refund?,Sam,sam@example.com,"Where is\nmy refund?",2024-02-03 04:05:06,open\n'
    )

    message = only_message(text, mapping=CSV_PRESETS["zendesk"])

    assert (message.external_id, message.thread_id, message.sender_name) == ("4711", "4711", "Sam")
    assert message.body_text == "Where is\nmy refund?"
    assert message.received_at == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_open_csv_strips_the_bom_and_replaces_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbfexternal_id,body\r\nx,caf\xe9 \xc3\xa9\r\n")

    with open_csv(path) as stream:
        [(_, message)] = list(parse_csv(stream))

    assert isinstance(message, IncomingMessage)
    assert message.body_text == "caf\ufffd é"


def test_lone_surrogates_from_a_lenient_stream_become_replacement_characters() -> None:
    message = only_message("external_id,body\nx,caf\udce9\n")

    assert message.body_text == "caf\ufffd"


# --- reading real exports: value maps, timestamp shapes, DST, float ids ---------------------


def test_a_value_map_reads_an_exports_own_words_for_a_direction() -> None:
    text = "external_id,direction\n1,True\n2,False\n3,sideways\n"
    reading = Reading(value_maps=parse_value_maps("direction:True=inbound,False=outbound"))

    result = rows(text, reading=reading)

    assert [r.direction for _, r in result[:2]] == ["inbound", "outbound"]
    assert isinstance(result[2][1], Rejected)
    assert "sideways" in result[2][1].reason


@pytest.mark.parametrize(
    "spec",
    ["direction", "direction:True", "subject:a=b", "direction:a=inbound,A=outbound"],
)
def test_a_bad_value_map_is_an_error_naming_its_part(spec: str) -> None:
    with pytest.raises(ValueError, match="value map"):
        parse_value_maps(spec)


@pytest.mark.parametrize(
    ("value", "reading", "expected"),
    [
        ("Tue Oct 31 22:10:47 +0000 2017", Reading(), _dt(2017, 10, 31, 22, 10, 47, tzinfo=_UTC)),
        ("Tue, 31 Oct 2017 22:10:47 +0100", Reading(), _dt(2017, 10, 31, 21, 10, 47, tzinfo=_UTC)),
        ("2017-10-31T22:10:47Z", Reading(), _dt(2017, 10, 31, 22, 10, 47, tzinfo=_UTC)),
        ("2017-10-31 22:10:47 UTC", Reading(), _dt(2017, 10, 31, 22, 10, 47, tzinfo=_UTC)),
        ("03/04/2024 10:30", Reading(), _dt(2024, 3, 4, 10, 30, tzinfo=_UTC)),
        ("03/04/2024 10:30", Reading(dayfirst=True), _dt(2024, 4, 3, 10, 30, tzinfo=_UTC)),
        ("03/04/2024 10:30 PM", Reading(), _dt(2024, 3, 4, 22, 30, tzinfo=_UTC)),
        ("31.10.2017 22:10", Reading(), _dt(2017, 10, 31, 22, 10, tzinfo=_UTC)),
        ("2023-08-25", Reading(default_time=_time(12)), _dt(2023, 8, 25, 12, tzinfo=_UTC)),
        ("25/08/2023", Reading(dayfirst=True, default_time=_time(9)), _dt(2023, 8, 25, 9, tzinfo=_UTC)),
        ("20231031-2210", Reading(date_formats=("%Y%m%d-%H%M",)), _dt(2023, 10, 31, 22, 10, tzinfo=_UTC)),
    ],
)
def test_timestamps_in_the_shapes_real_exports_write(value: str, reading: Reading, expected: _dt) -> None:
    assert read_timestamp(value, ZoneInfo("UTC"), reading) == expected


@pytest.mark.parametrize(
    ("value", "reading", "message"),
    [
        ("2023-08-25", Reading(), "a date without a time of day (give --default-time"),
        ("13/04/2024 10:00", Reading(), "month 13 does not exist: read the dates with --dayfirst?"),
        (
            "04/13/2024 10:00",
            Reading(dayfirst=True),
            "month 13 does not exist: read the dates without --dayfirst?",
        ),
        ("31/02/2024 10:00", Reading(dayfirst=True), "not a valid date"),
        ("2023-10-31 22:10", Reading(date_formats=("%d/%m/%Y",)), "does not match --date-format '%d/%m/%Y'"),
    ],
)
def test_a_timestamp_that_cannot_be_read_says_which_option_helps(
    value: str, reading: Reading, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        read_timestamp(value, ZoneInfo("UTC"), reading)


def test_a_local_time_a_dst_change_repeats_or_skips_is_an_error_unless_fold_says_which() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 27 October 2024: 02:00-03:00 happens twice in Berlin; 31 March 2024: 02:00-03:00 never happens.
    with pytest.raises(ValueError, match=r"happens twice .*--fold earlier or --fold later"):
        read_timestamp("2024-10-27 02:30", berlin)
    with pytest.raises(ValueError, match=r"does not exist .*--fold earlier or --fold later"):
        read_timestamp("2024-03-31 02:30", berlin)
    assert read_timestamp("2024-10-27 02:30", berlin, Reading(fold="earlier")) == _dt(
        2024, 10, 27, 0, 30, tzinfo=_UTC
    )
    assert read_timestamp("2024-10-27 02:30", berlin, Reading(fold="later")) == _dt(
        2024, 10, 27, 1, 30, tzinfo=_UTC
    )
    assert read_timestamp("2024-03-31 02:30", berlin, Reading(fold="earlier")) == _dt(
        2024, 3, 31, 0, 30, tzinfo=_UTC
    )
    assert read_timestamp("2024-03-31 02:30", berlin, Reading(fold="later")) == _dt(
        2024, 3, 31, 1, 30, tzinfo=_UTC
    )
    # An ordinary local time is not affected.
    assert read_timestamp("2024-10-27 12:00", berlin) == _dt(2024, 10, 27, 11, 0, tzinfo=_UTC)


def test_the_row_with_an_ambiguous_time_is_named_by_its_line() -> None:
    [(line, result)] = rows("external_id,received_at\nm1,2024-10-27 02:30\n", default_tz="Europe/Berlin")

    assert line == 2
    assert isinstance(result, Rejected)
    assert "happens twice" in result.reason


def test_integer_ids_read_the_float_form_spreadsheets_write() -> None:
    text = "external_id,in_reply_to\n2,1.0\n3.0,\n"

    plain = rows(text)
    read = rows(text, reading=Reading(integer_ids=True))

    assert [(r.external_id, r.in_reply_to) for _, r in plain] == [("2", "1.0"), ("3.0", "")]
    assert [(r.external_id, r.in_reply_to) for _, r in read] == [("2", "1"), ("3", "")]


def test_a_carriage_return_alone_outside_quotes_does_not_split_its_row(tmp_path) -> None:
    # As in the twcs sample: a tweet's line breaks written as bare CRs in an unquoted field.
    path = tmp_path / "export.csv"
    path.write_bytes(b'external_id,body\r\n1,hello \r\rworld\r\n2,"kept\rinside quotes"\r\n3,plain\r\n')

    with open_csv(path) as stream:
        result = list(parse_csv(stream))

    assert [(line, r.external_id, r.body_text) for line, r in result] == [
        (2, "1", "hello   world"),
        (3, "2", "kept\rinside quotes"),
        (4, "3", "plain"),
    ]


def test_a_file_with_old_mac_line_ends_is_read_row_by_row(tmp_path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b"external_id,body\r1,one\r2,two\r")

    with open_csv(path) as stream:
        result = list(parse_csv(stream))

    assert [(r.external_id, r.body_text) for _, r in result] == [("1", "one"), ("2", "two")]
