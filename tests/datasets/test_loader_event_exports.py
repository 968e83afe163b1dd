"""Event exports of analytics tools (GA4, Segment, Shopify's pixel, Amplitude) that
loaded wrong without a word: JSON objects or arrays taken as ids, GA4's "(not set)"
visitor, float-written session ids, and a column of event types the funnel never knows."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mart.loading import LoadRefusedError
from tests.datasets.conftest import load, refused


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def _event(number: int, **fields) -> dict:
    return {
        "event_type": "page_view",
        "event_timestamp": f"2024-01-15T10:0{number}:00Z",
        **fields,
    }


def test_keys_inside_objects_are_columns_of_their_own(ws, write_file, stored):
    """{"user": {"id": "C1", "email": …}} was mapped to customer_id, loaded as its JSON
    text, and every build passed with customers named {"id":"C1",…}. Each key of an
    object is now a column (user.id), mapped by its name like any other."""
    records = [
        _event(
            i,
            user={"id": f"C{i}", "email": f"c{i}@example.com"},
            properties={"category": "Audio", "price": "PRICE"},
        )
        for i in range(3)
    ]
    result = load(ws, write_file("nested.jsonl", _jsonl(records)), dataset="events")
    mapping = result.report.mapping
    assert (mapping["customer_id"], mapping["product_category"]) == (
        "user.id",
        "properties.category",
    )
    rows = stored("events")
    assert [row["customer_id"] for row in rows] == ["C0", "C1", "C2"]
    assert rows[0]["product_category"] == "Audio"
    # the objects are kept whole; their keys' columns only when mapped
    assert json.loads(rows[0]["user"]) == {"id": "C0", "email": "c0@example.com"}
    assert "user.email" not in rows[0] and "properties.price" not in rows[0]
    # a long number inside an object keeps its digits, as a top-level one does
    path = write_file("price.jsonl", _jsonl(records).replace('"PRICE"', "9007199254740993.01"))
    load(ws, path, dataset="events", mapping={"session_id": "properties.price"})
    assert stored("events")[0]["session_id"] == "9007199254740993.01"


def test_an_object_column_named_like_the_field_gives_its_id_key(ws, write_file, stored):
    records = [_event(i, customer_id={"id": f"C{i}", "tier": "gold"}) for i in range(2)]
    result = load(ws, write_file("cid.jsonl", _jsonl(records)), dataset="events")
    assert result.report.mapping["customer_id"] == "customer_id.id"
    assert "their key 'id', column 'customer_id.id'" in str(result.report.warnings[0])
    assert [row["customer_id"] for row in stored("events")] == ["C0", "C1"]


def test_an_array_column_is_not_taken_for_a_customer_id(ws, write_file):
    records = [_event(i, user=[f"C{i}", "C9"]) for i in range(3)]
    error = refused(ws, write_file("arrays.jsonl", _jsonl(records)), dataset="events")
    text = str(error)
    assert "required field customer_id has no column: 'user' looks like it" in text
    assert "holds JSON arrays, not one value per row" in text
    assert "a value inside an array cannot be mapped" in text
    assert "flatten the file first" in text


def test_an_object_or_array_mapped_by_hand_is_refused_at_its_row(ws, write_file):
    records = [_event(i, customer_id="C1", properties={"session": "S1"}) for i in range(3)]
    path = write_file("mapped.jsonl", _jsonl(records))
    error = refused(ws, path, dataset="events", mapping={"session_id": "properties"})
    assert error.report.errors[0].row == 1
    text = str(error)
    assert "session_id needs one value per row, and column 'properties' holds JSON objects" in text
    assert "map the column of the key you mean instead: 'properties.session'" in text


def test_a_column_mixing_values_and_arrays_is_refused_where_they_are(ws, write_file):
    """ "C1" and ["C1"] became two customers."""
    records = [_event(0, customer_id="C1"), _event(1, customer_id=["C1"]), _event(2, customer_id=7)]
    error = refused(ws, write_file("mixed.jsonl", _jsonl(records)), dataset="events")
    [problem] = error.report.errors
    assert (problem.row, problem.field) == (2, "customer_id")
    assert "in 1 row(s) of 3" in problem.problem


def test_an_optional_field_of_objects_is_left_empty_with_a_warning(ws, write_file, stored):
    records = [_event(i, customer_id="C1", session_id={"key": "S1", "n": i}) for i in range(2)]
    result = load(ws, write_file("session.jsonl", _jsonl(records)), dataset="events")
    assert result.report.warning_summary["nested values"] == 1
    assert "'session_id' looks like session_id, but holds JSON objects" in str(
        result.report.warnings[0]
    )
    rows = stored("events")
    assert [row["session_id"] for row in rows] == [None, None]
    # the objects are kept, as the file's other columns are
    assert json.loads(rows[0]["source_session_id"]) == {"key": "S1", "n": 0}


def test_text_that_only_looks_like_json_is_a_value(ws, write_file, stored):
    """A string "[C1]" in JSON, or [C1] in a CSV, is one value: only real objects and
    arrays are refused."""
    records = [_event(i, customer_id=f"[C{i}]", session_id="{S1}") for i in range(2)]
    load(ws, write_file("strings.jsonl", _jsonl(records)), dataset="events")
    assert [row["customer_id"] for row in stored("events")] == ["[C0]", "[C1]"]
    csv = "customer_id,event_type,event_timestamp\n[C1],page_view,2024-01-15 10:00\n"
    load(ws, write_file("brackets.csv", csv), dataset="events")
    assert stored("events")[0]["customer_id"] == "[C1]"


def test_a_parquet_struct_column_is_not_a_customer_id(ws, tmp_path, stored):
    """A STRUCT is never the value: its key id is read instead, as a JSON object's, and
    a STRUCT without one is refused."""
    table = pa.table(
        {
            "customer_id": [{"id": "C1"}, {"id": "C2"}],
            "event_type": ["page_view", "purchase"],
            "event_timestamp": ["2024-01-15 10:00", "2024-01-15 10:05"],
        }
    )
    path = tmp_path / "struct.parquet"
    pq.write_table(table, path)
    result = load(ws, path, dataset="events")
    assert result.report.mapping["customer_id"] == "customer_id.id"
    assert "column 'customer_id' holds STRUCT values (keys: id): customer_id is read" in str(
        result.report.warnings[0]
    )
    assert [row["customer_id"] for row in stored("events")] == ["C1", "C2"]
    table = table.set_column(0, "customer_id", pa.array([{"email": "a@x"}, {"email": "b@x"}]))
    pq.write_table(table, path)
    with pytest.raises(LoadRefusedError) as error:
        load(ws, path, dataset="events")
    assert "'customer_id' looks like it, but holds STRUCT values (keys: email)" in str(error.value)
    assert "map the column of the key you mean instead: 'customer_id.email'" in str(error.value)


def test_the_fields_of_a_parquet_struct_are_columns_of_their_own(ws, tmp_path, stored):
    """A warehouse's Parquet export (Segment's or Mixpanel's tables, GA4's device and
    geo) keeps the customer, the category or the time inside a STRUCT: they could not be
    mapped, while the same records as JSON could."""
    import datetime

    utc = datetime.UTC
    table = pa.table(
        {
            "event": ["Product Viewed", "Order Completed"],
            "context": [
                {
                    "user_id": "C1",
                    "page": {"path": "/a"},
                    "sent_at": datetime.datetime(2024, 1, 15, 23, 30, tzinfo=utc),
                },
                {
                    "user_id": "C2",
                    "page": {"path": "/b"},
                    "sent_at": datetime.datetime(2024, 1, 16, 9, 0, tzinfo=utc),
                },
            ],
            "properties": [
                {"category": "Audio", "price": 1.5},
                {"category": "Video", "price": 2.25},
            ],
            "timestamp": ["2024-01-15 10:00:00", "2024-01-16 11:00:00"],
            "tags": [["a"], ["b", "c"]],
        }
    )
    path = tmp_path / "segment.parquet"
    pq.write_table(table, path)
    result = load(ws, path, dataset="events", mapping={"customer_id": "context.user_id"})
    mapping = result.report.mapping
    assert mapping["customer_id"] == "context.user_id"
    assert mapping["product_category"] == "properties.category"  # the key alone, in a bag
    assert mapping["event_timestamp"] == "timestamp"
    rows = stored("events")
    assert [row["customer_id"] for row in rows] == ["C1", "C2"]
    assert [row["product_category"] for row in rows] == ["Audio", "Video"]
    # the STRUCTs are kept whole as JSON text; their fields are not stored twice
    assert json.loads(rows[0]["properties"]) == {"category": "Audio", "price": 1.5}
    assert "properties.price" not in rows[0] and "context.user_id" not in rows[0]
    # a STRUCT in a STRUCT is one column, refused as a value, with its fields named
    with pytest.raises(LoadRefusedError) as error:
        load(ws, path, dataset="events", mapping={"customer_id": "context.page"})
    assert "holds STRUCT values (keys: path)" in str(error.value)
    assert "map the column of the key you mean instead: 'context.page.path'" in str(error.value)


def test_ga4_not_set_visitors_get_the_placeholder_warning(ws, write_file):
    """GA4 writes "(not set)" for visitors it cannot name: 20 of 40 rows became one
    customer without a word ("anonymous" was warned)."""
    rows = [
        f"{'(not set)' if i % 2 else f'U{i}'},page_view,2024-01-15 10:{i:02d}:00\n"
        for i in range(40)
    ]
    text = "user_id,event_name,event_timestamp\n" + "".join(rows)
    result = load(ws, write_file("ga4.csv", text), dataset="events")
    assert result.report.warning_summary["placeholder customer id"] == 20
    warning = str(result.report.warnings[0])
    assert "'(not set)' is on 20 of 40 rows: analytics tools write it for visitors" in warning


def test_session_ids_written_as_decimals_are_warned(ws, write_file):
    """1705312800 and 1705312800.0 were two sessions without a word (customer ids were
    warned)."""
    text = (
        "customer_id,session_id,event_type,event_timestamp\n"
        "C1,1705312800,page_view,2024-01-15 10:00\n"
        "C1,1705312800.0,purchase,2024-01-15 10:05\n"
    )
    result = load(ws, write_file("sessions.csv", text), dataset="events")
    assert result.report.warning_summary["ids written as decimals"] == 1
    assert result.report.warnings[0].field == "session_id"


def _pixel_events(names: list[str]) -> str:
    return json.dumps(
        [
            {
                "id": f"sh-{i}",
                "clientId": "C1",
                "name": name,
                "type": "standard",
                "timestamp": f"2024-01-15T10:0{i}:00Z",
            }
            for i, name in enumerate(names)
        ]
    )


def test_the_event_type_column_is_the_one_whose_values_name_the_funnel(ws, write_file, stored):
    """Shopify's pixel events: `type` ("standard" on every row) was taken for the event
    type, the names sat in `name`, and the load said only "unknown event type"."""
    names = ["page_viewed", "product_viewed", "product_added_to_cart", "checkout_completed"]
    result = load(ws, write_file("pixel.json", _pixel_events(names)), dataset="events")
    assert result.report.mapping["event_type"] == "name"
    assert str(result.report.warnings[0]).endswith(
        "event_type is read from 'name', whose values name the funnel's steps; 'type' is "
        "named like it but names none of them"
    )
    assert [row["event_type"] for row in stored("events")] == [
        "page_view",
        "product_view",
        "add_to_cart",
        "purchase",
    ]


def test_a_column_without_one_known_event_type_is_said_to_be_the_wrong_one(ws, write_file):
    names = ["collection_viewed", "search_submitted", "cart_viewed", "collection_viewed"]
    result = load(ws, write_file("pixel.json", _pixel_events(names)), dataset="events")
    assert result.report.mapping["event_type"] == "type"
    summary = result.report.warnings[0]
    assert summary.row is None and summary.field == "event_type"
    assert summary.problem.startswith(
        "no row has an event type the funnel knows (page_view, product_view, add_to_cart, "
        "purchase): column 'type' holds 'standard' (4). Is it the right column?"
    )
    # the summary adds no warning of its own to the counts: four rows, four warnings
    assert result.report.warning_summary["unknown event types"] == 4


def test_unknown_event_types_are_listed_with_their_counts(ws, write_file, stored):
    types = ["page_view", "Page View", "Page View", "pageview", "purchase"] + [
        f"custom_{i}" for i in range(6)
    ]
    text = "customer_id,event_type,event_timestamp\n" + "".join(
        f"C1,{kind},2024-01-15 10:{i:02d}\n" for i, kind in enumerate(types)
    )
    result = load(ws, write_file("types.csv", text), dataset="events")
    renamed, unknown = (warning.problem for warning in result.report.warnings[:2])
    assert renamed == (
        "event types of another tool read as the funnel's: 'Page View' as page_view (2), "
        "'pageview' as page_view (1)"
    )
    assert unknown.startswith(
        "6 of 11 rows have an event type the funnel does not know: 'custom_0' (1), "
        "'custom_1' (1), 'custom_2' (1), 'custom_3' (1), 'custom_4' (1) and 1 more."
    )
    stored_types = [row["event_type"] for row in stored("events")]
    assert stored_types[:5] == ["page_view", "page_view", "page_view", "page_view", "purchase"]


def test_other_tools_names_of_the_funnel_steps_are_read_as_the_funnels(ws, write_file, stored):
    """Segment's "Product Viewed", GA4's view_item, Shopify's product_added_to_cart and
    checkout_completed, Mixpanel's $mp_web_page_view: kept as unknown types, and the
    funnel counted none of them."""
    names = [
        "$mp_web_page_view",
        "view_item",
        "Product Viewed",
        "product_added_to_cart",
        "Order Completed",
        "checkout_completed",
        "PURCHASE",
        "scroll",
    ]
    text = "customer_id,event_type,event_timestamp\n" + "".join(
        f"C1,{name},2024-01-15 10:{i:02d}\n" for i, name in enumerate(names)
    )
    result = load(ws, write_file("tools.csv", text), dataset="events")
    assert [row["event_type"] for row in stored("events")] == [
        "page_view",
        "product_view",
        "product_view",
        "add_to_cart",
        "purchase",
        "purchase",
        "PURCHASE",  # the funnel's own name in capitals: staging lower-cases it
        "scroll",
    ]
    assert result.report.warning_summary["event types renamed"] == 6
    assert result.report.warning_summary["unknown event types"] == 1


def test_the_date_format_unix_reads_unix_times_in_every_unit(ws, write_file, stored):
    """GA4's BigQuery export writes microseconds since 1970, Mixpanel seconds, pandas
    milliseconds: refused with "convert the column first", and no date format read them."""
    values = [
        "1705312800",  # seconds
        "999000000",  # nine digits of seconds: 2001
        "1705312800.25",  # a fraction
        "1705312800123",  # milliseconds
        "1705312800123456",  # microseconds (GA4)
        "1705312800123456789",  # nanoseconds, cut to the microsecond
        "2024-01-15T10:00:00Z",  # ISO beside them
    ]
    text = "customer_id,event_type,event_timestamp\n" + "".join(
        f"C1,page_view,{value}\n" for value in values
    )
    path = write_file("epoch.csv", text)
    error = refused(ws, path, dataset="events")
    assert "give the date format unix" in str(error)
    # one Unix hint per unit, not one 350-character hint per value
    by_row = {problem.row: problem.problem for problem in error.report.errors}
    assert by_row[3].endswith("(same reason as row 1)")
    assert "looks like a Unix time in milliseconds" in by_row[4]
    for word in ("unix", "EPOCH", "%s"):
        load(ws, path, dataset="events", date_format=word)
        assert [row["event_timestamp"] for row in stored("events")] == [
            "2024-01-15T10:00:00",
            "2001-08-28T12:00:00",
            "2024-01-15T10:00:00.250000",
            "2024-01-15T10:00:00.123000",
            "2024-01-15T10:00:00.123456",
            "2024-01-15T10:00:00.123456",
            "2024-01-15T10:00:00",
        ]
    # a transaction's date from a Unix time: its UTC date
    transactions = "transaction_id,customer_id,transaction_date,amount\nT1,C1,1705362000,9.50\n"
    load(ws, write_file("t.csv", transactions), date_format="unix")
    assert stored("transactions")[0]["transaction_date"] == "2024-01-15"


def test_a_date_and_hour_in_digits_is_not_called_a_unix_time(ws, write_file, stored):
    """GA4's "Date + hour (YYYYMMDDHH)": 2024011510 was said to be a Unix time of 2034,
    and following that hint loaded dates ten years off."""
    text = "customer_id,event_type,event_timestamp\nC1,page_view,2024011510\n"
    path = write_file("hour.csv", text)
    error = str(refused(ws, path, dataset="events"))
    assert "2024011510 as %Y%m%d%H is 2024-01-15 10:00; give the date format %Y%m%d%H" in error
    assert "2034" not in error
    load(ws, path, dataset="events", date_format="%Y%m%d%H")
    assert stored("events")[0]["event_timestamp"] == "2024-01-15T10:00:00"
    # a real Unix time still gets the Unix hint
    unix = write_file(
        "unix.csv", "customer_id,event_type,event_timestamp\nC1,purchase,1705312800\n"
    )
    with pytest.raises(LoadRefusedError, match="looks like a Unix time in seconds"):
        load(ws, unix, dataset="events")


def test_a_report_of_counted_events_is_warned(ws, write_file):
    """GA4's report export: a row with an Event count of 37 was loaded as one page_view,
    without a word."""
    text = (
        "Event name,Date,Effective user ID,Event count\n"
        "page_view,20240115,C1,37\n"
        "purchase,20240115,C1,1\n"
        'add_to_cart,20240116,C2,"1,200"\n'
    )
    path = write_file("report.csv", text)
    result = load(ws, path, dataset="events", mapping={"customer_id": "Effective user ID"})
    [warning] = result.report.warnings
    assert (warning.row, warning.column) == (1, "Event count")
    assert "counts events on 2 row(s) (up to 1,200; 1,238 in all)" in warning.problem
    plain = text.replace(",37\n", ",1\n").replace('"1,200"', "1")
    again = load(
        ws,
        write_file("ones.csv", plain),
        dataset="events",
        mapping={"customer_id": "Effective user ID"},
    )
    assert not again.report.warnings


def test_a_unique_id_column_is_preferred_to_an_event_id_that_repeats(ws, write_file, stored):
    """Amplitude's event_id counts per device (it repeats across devices); its uuid and
    $insert_id are unique. event_id was taken, and the build's unique test failed."""
    records = [
        {
            "event_id": i % 3,
            "$insert_id": f"ins-{i}",
            "user_id": "C1",
            "event_type": "page_view",
            "event_time": f"2024-01-15 10:0{i}:00",
        }
        for i in range(6)
    ]
    result = load(ws, write_file("amplitude.jsonl", _jsonl(records)), dataset="events")
    assert result.report.mapping["event_id"] == "$insert_id"
    assert "'event_id' is named like a event_id but repeats its values (3 distinct in 6 rows)" in (
        str(result.report.warnings[0])
    )
    assert [row["event_id"] for row in stored("events")][:2] == ["ins-0", "ins-1"]
    # an event_id without repeats keeps its place
    unique = [dict(record, event_id=i) for i, record in enumerate(records)]
    again = load(ws, write_file("unique.jsonl", _jsonl(unique)), dataset="events")
    assert again.report.mapping["event_id"] == "event_id"


def test_a_date_column_and_a_time_column_are_read_together(ws, write_file, stored):
    """Date,Time,User ID,Event: the time of day was taken for the event's moment and
    refused, and no mapping could give both."""
    text = (
        "Date,Time,User ID,Event\n"
        "15/01/2024,10:00:05,C1,page_view\n"
        "16/01/2024,3:05 PM,C1,purchase\n"
        ",11:00,C2,page_view\n"
    )
    result = load(ws, write_file("split.csv", text), dataset="events")
    assert result.report.mapping["event_timestamp"] == "Date + Time"
    assert "read from 'Date' and 'Time' together" in str(result.report.warnings[0])
    rows = stored("events")
    assert [row["event_timestamp"] for row in rows] == [
        "2024-01-15T10:00:05",
        "2024-01-16T15:05:00",
        None,  # no date: empty, as any empty required value (the dbt tests flag it)
    ]
    assert rows[0]["Date"] == "15/01/2024" and "Date + Time" not in rows[0]
    # transactions need only the date: the Date column stays theirs
    sales = "Date,Time,Customer,Amount\n2024-01-15,23:59,C1,5.00\n"
    again = load(ws, write_file("sales.csv", sales))
    assert again.report.mapping["transaction_date"] == "Date"


def test_a_decimal_mark_for_events_is_ignored_with_a_warning(ws, write_file):
    """--decimal-mark comma was taken for events (which have no amounts) and written
    into the version's message ("decimal comma"). A script passing it for both datasets
    still works."""
    path = write_file("e.csv", "customer_id,event_type,event_timestamp\nC1,purchase,2024-01-15\n")
    result = load(ws, path, dataset="events", decimal_mark="comma")
    assert result.report.warning_summary == {"options ignored": 1}
    assert "decimal" not in result.version.message


def test_objects_and_arrays_one_level_down_are_refused_too(ws, write_file):
    """properties.customer_id held ["C1"] in one row and "C1" in the next: two
    customers, and category {"name": "Books"} a category, with every test passing."""
    records = [
        _event(0, properties={"customer_id": ["C1"], "category": "Books"}),
        _event(1, properties={"customer_id": "C1", "category": "Toys"}),
    ]
    error = refused(ws, write_file("deep.jsonl", _jsonl(records)), dataset="events")
    [problem] = error.report.errors
    assert (problem.row, problem.column) == (1, "properties.customer_id")
    assert "holds JSON arrays in 1 row(s) of 2" in problem.problem
    # four levels down: deeper than keys become columns (three levels)
    deeper = [
        _event(i, user={"id": {"crm": {"ref": {"value": f"C{i}"}}}}, customer_id="x")
        for i in range(2)
    ]
    error = refused(
        ws,
        write_file("deeper.jsonl", _jsonl(deeper)),
        dataset="events",
        mapping={"customer_id": "user.id.crm.ref"},
    )
    assert "'user.id.crm.ref' holds JSON objects (keys: value)" in str(error)
    assert "only the keys up to 3 levels down are columns of their own" in str(error)


def test_keys_two_and_three_levels_down_are_columns_too(ws, write_file, stored):
    """{"context": {"traits": {"user_id": "C1"}}}: a Segment event keeps the customer two
    levels down, and {"user": {"id": {"value": …}}} a CRM reference; they could not be
    mapped (only keys one level down were columns)."""
    records = [
        _event(
            i,
            context={"traits": {"user_id": f"C{i}", "plan": "pro"}, "ip": "10.0.0.1"},
            properties={"item": {"category": {"name": "Audio"}}},
        )
        for i in range(3)
    ]
    result = load(ws, write_file("seg.jsonl", _jsonl(records)), dataset="events")
    assert result.report.mapping["customer_id"] == "context.traits.user_id"
    assert "context.traits.user_id" in result.report.derived_columns
    assert "properties.item.category.name" in result.report.derived_columns
    rows = stored("events")
    assert [row["customer_id"] for row in rows] == ["C0", "C1", "C2"]
    # the objects are kept whole as JSON text; their keys are not stored twice
    assert json.loads(rows[0]["context"])["traits"]["plan"] == "pro"
    assert not any(key.startswith("context.") for key in rows[0])


def test_an_id_key_holding_objects_is_not_read_as_the_id(ws, write_file, stored):
    """{"customer_id": {"id": {"value": "C1", "type": "crm"}}}: the key 'id' was read as
    the customer id, and each customer stored as '{"value":"C0","type":"crm"}'. It is
    refused with the keys' columns to map instead."""
    crm = [_event(i, customer_id={"id": {"value": f"C{i}", "type": "crm"}}) for i in range(2)]
    error = refused(ws, write_file("crm.jsonl", _jsonl(crm)), dataset="events")
    assert "map the column of the key you mean instead: 'customer_id.id.value', " in str(error)
    load(
        ws,
        write_file("crm2.jsonl", _jsonl(crm)),
        dataset="events",
        mapping={"customer_id": "customer_id.id.value"},
    )
    assert [row["customer_id"] for row in stored("events")] == ["C0", "C1"]


def test_structs_in_structs_are_split_three_levels_down(ws, tmp_path, stored):
    table = pa.table(
        {
            "event_type": ["page_view", "purchase"],
            "event_timestamp": ["2024-01-15 10:00:00", "2024-01-16 11:00:00"],
            "context": [
                {"traits": {"user": {"id": "C1", "deep": {"x": 1}}}},
                {"traits": {"user": {"id": "C2", "deep": {"x": 2}}}},
            ],
        }
    )
    path = tmp_path / "nested.parquet"
    pq.write_table(table, path)
    result = load(ws, path, dataset="events", mapping={"customer_id": "context.traits.user.id"})
    assert [row["customer_id"] for row in stored("events")] == ["C1", "C2"]
    assert "context.traits.user.deep" in result.report.derived_columns
    assert "context.traits.user.deep.x" not in result.report.derived_columns
    with pytest.raises(LoadRefusedError) as error:
        load(ws, path, dataset="events", mapping={"customer_id": "context.traits.user.deep"})
    assert "holds STRUCT values (keys: x)" in str(error.value)
    assert "only the fields up to 3 levels down are columns of their own" in str(error.value)


def test_keys_differing_in_case_get_names_of_their_own(ws, write_file, stored):
    """DuckDB's names ignore case: user.ID beside user.id became user.ID_1 unasked, and
    was stored though unmapped."""
    records = [_event(i, user={"id": f"C{i}", "ID": f"X{i}"}) for i in range(2)]
    result = load(ws, write_file("case.jsonl", _jsonl(records)), dataset="events")
    assert result.report.mapping["customer_id"] == "user.id"
    assert "key 'ID' of column 'user' is column 'user.ID_2'" in str(result.report.warnings[0])
    assert set(stored("events")[0]) >= {"user"} and "user.ID_2" not in stored("events")[0]
    again = load(
        ws,
        write_file("case2.jsonl", _jsonl(records)),
        dataset="events",
        mapping={"customer_id": "user.ID_2"},
    )
    assert again.report.mapping["customer_id"] == "user.ID_2"
    assert [row["customer_id"] for row in stored("events")] == ["X0", "X1"]


def test_only_property_bags_are_looked_up_by_the_key_alone(ws, write_file):
    """GA4's device.category (desktop, mobile) became the product category."""
    records = [
        _event(i, customer_id="C1", device={"category": "desktop"}, properties={"kind": "x"})
        for i in range(2)
    ]
    result = load(ws, write_file("ga4.jsonl", _jsonl(records)), dataset="events")
    assert result.report.mapping["product_category"] is None
    bag = [_event(i, customer_id="C1", properties={"category": "Audio"}) for i in range(2)]
    result = load(ws, write_file("bag.jsonl", _jsonl(bag)), dataset="events")
    assert result.report.mapping["product_category"] == "properties.category"


def test_objects_with_more_keys_than_columns_are_said(ws, write_file, monkeypatch):
    from mart import loading

    monkeypatch.setattr(loading, "MAX_OBJECT_KEYS", 5)
    records = [
        _event(i, customer_id="C1", properties={f"k{n}": n for n in range(8)}) for i in range(2)
    ]
    result = load(ws, write_file("wide.jsonl", _jsonl(records)), dataset="events")
    assert result.report.warning_summary["object keys left out"] == 1
    assert "have more than 5 keys: the first 5" in str(result.report.warnings[0])
    assert "properties.k4" in result.report.columns and "properties.k5" not in result.report.columns


def test_a_repeated_transaction_id_beside_a_row_number_id_stays_a_duplicate(ws, write_file):
    """The rule that prefers Amplitude's unique $insert_id to its repeating event_id
    made a row-number id the transaction id, and a real duplicate was counted twice."""
    text = (
        "id,transaction_id,customer_id,transaction_date,amount\n"
        "1,T1,C1,2024-01-15,10.00\n2,T2,C2,2024-01-15,20.00\n"
        "3,T2,C2,2024-01-15,20.00\n4,T3,C3,2024-01-16,5.00\n"
    )
    result = load(ws, write_file("dup.csv", text))
    assert result.report.mapping["transaction_id"] == "transaction_id"
    assert result.report.warning_summary["duplicate ids"] == 2


def test_utc_and_gmt_offsets_written_apart_are_read_and_warned(ws, write_file, stored):
    values = ["10:00:00 UTC +05:30", "10:00:00 UTC+05:30:00", "10:00:00 GMT +05:30"]
    text = "customer_id,event_type,event_timestamp\n" + "".join(
        f"C1,page_view,2024-01-15 {value}\n" for value in values
    )
    result = load(ws, write_file("apart.csv", text), dataset="events")
    assert [row["event_timestamp"] for row in stored("events")] == ["2024-01-15T04:30:00"] * 3
    assert result.report.warning_summary == {"time zones converted": 3}
    impossible = "customer_id,event_type,event_timestamp\nC1,purchase,2024-01-15 10:00 UTC+15:00\n"
    with pytest.raises(LoadRefusedError, match="not one any place has"):
        load(ws, write_file("plus15.csv", impossible), dataset="events")


def test_unix_times_ignore_leading_zeros_cut_fractions_and_warn_before_1980(ws, write_file, stored):
    values = ["0001705312800", "1705312800.9999999999", "20240115"]
    text = "customer_id,event_type,event_timestamp\n" + "".join(
        f"C1,page_view,{value}\n" for value in values
    )
    result = load(ws, write_file("u.csv", text), dataset="events", date_format="unix")
    assert [row["event_timestamp"] for row in stored("events")] == [
        "2024-01-15T10:00:00",
        "2024-01-15T10:00:00.999999",
        "1970-08-23T06:15:15",
    ]
    [warning] = result.report.warnings
    assert warning.row == 3 and "before 1980" in warning.problem


def test_a_reports_notes_above_the_header_are_skipped(ws, write_file, stored):
    """GA4's CSV export starts with # notes under a ruler line; the load was refused with
    "delete those lines". A header whose first column is # is still a header."""
    text = (
        "# ----------------------------------------\n"
        "# Free form 1\n"
        "# Property: TechMart - GA4\n"
        "# ----------------------------------------\n"
        "#\n"
        "# Start date: 20240115\n"
        "\n"
        "Event name,Date,Effective user ID\n"
        "page_view,20240115,U1\n"
        "purchase,20240116,U2\n"
    )
    result = load(
        ws,
        write_file("ga4.csv", text),
        dataset="events",
        mapping={"customer_id": "Effective user ID"},
    )
    assert result.report.warnings[0].problem.startswith("lines 1 to 7 are a report's notes")
    assert [row["customer_id"] for row in stored("events")] == ["U1", "U2"]
    numbered = "#,customer_id,event_type,event_timestamp\n1,C1,purchase,2024-01-15\n"
    again = load(ws, write_file("numbered.csv", numbered), dataset="events")
    assert "#" in again.report.columns and not again.report.warnings


def test_generated_ids_do_not_depend_on_columns_made_from_others(ws, write_file):
    """The keys' columns (user.id …) were hashed into a row's generated id: a key seen
    only in a later row changed the ids of every row, and appending an overlapping
    export doubled its rows without the 'already in the dataset' warning."""
    first = [_event(i, user={"id": f"C{i}"}) for i in range(2)]
    load(ws, write_file("first.jsonl", _jsonl(first)), dataset="events")
    second = [*first, _event(3, user={"id": "C3", "tier": "gold"})]
    result = load(ws, write_file("second.jsonl", _jsonl(second)), dataset="events", mode="append")
    assert result.report.warning_summary["ids already in the dataset"] == 2


def test_columns_chosen_by_values_keep_to_names_and_whole_files(ws, write_file):
    """A duration (00:03:12, 24:38) was joined to the date as a time of day; event
    types first seen after row 1,000 lost their column to a `hit_type` column; one
    duplicate event_id gave way to a uuid column and went unwarned; and the warnings
    said so even when a hand-made mapping had chosen otherwise."""
    text = "event_id,user_id,event_type,date,session_duration\n" + "".join(
        f"E{i},C1,page_view,2024-01-15,00:0{i}:12\n" for i in range(3)
    )
    result = load(ws, write_file("duration.csv", text), dataset="events")
    assert result.report.mapping["event_timestamp"] == "date" and not result.report.warnings
    rows = ["login,pageview"] * 1100 + ["purchase,transaction"] * 10
    text = "event_id,customer_id,event_type,hit_type,event_timestamp\n" + "".join(
        f"E{i},C1,{row},2024-01-15\n" for i, row in enumerate(rows)
    )
    result = load(ws, write_file("sorted.csv", text), dataset="events")
    assert result.report.mapping["event_type"] == "event_type"
    text = "event_id,uuid,customer_id,event_type,event_timestamp\n" + "".join(
        f"E{min(i, 5)},u-{i},C1,page_view,2024-01-15\n" for i in range(7)
    )
    result = load(ws, write_file("dupe.csv", text), dataset="events")
    assert result.report.mapping["event_id"] == "event_id"
    assert result.report.warning_summary["duplicate ids"] == 2
    split = "Date,Time,User ID,Event\n2024-01-15,10:00,C1,page_view\n"
    result = load(
        ws, write_file("split.csv", split), dataset="events", mapping={"event_timestamp": "Date"}
    )
    assert not result.report.warnings


def test_a_hash_header_after_a_reports_notes_is_kept(ws, write_file):
    text = "# ----\n# Orders\n#,Customer,Date,Amount\n1,C1,2024-01-15,12.50\n"
    result = load(ws, write_file("numbered.csv", text))
    assert result.report.warnings[0].problem.startswith("lines 1 to 2 are a report's notes")
    assert result.report.columns[0] == "#"


def test_a_zone_name_format_reads_utc_offsets_with_their_minutes(ws, write_file, stored):
    """With the date format %Z, "10:00 UTC+05:30" was stored as 05:00 UTC: DuckDB's
    strptime reads the UTC form's hours and drops its minutes (GMT+05:30 read 04:30)."""
    values = ["15/01/2024 10:00 UTC+05:30", "15/01/2024 10:00 UTC -03:30", "15/01/2024 10:00 UTC"]
    text = "customer_id,event_type,event_timestamp\n" + "".join(
        f"C1,page_view,{value}\n" for value in values
    )
    load(ws, write_file("z.csv", text), dataset="events", date_format="%d/%m/%Y %H:%M %Z")
    assert [row["event_timestamp"] for row in stored("events")] == [
        "2024-01-15T04:30:00",
        "2024-01-15T13:30:00",
        "2024-01-15T10:00:00",
    ]
    # a format that writes UTC itself still reads its values
    literal = (
        "customer_id,event_type,event_timestamp\nC1,page_view,15/01/2024 10:00 UTC Asia/Kolkata\n"
    )
    load(ws, write_file("lit.csv", literal), dataset="events", date_format="%d/%m/%Y %H:%M UTC %Z")
    assert [row["event_timestamp"] for row in stored("events")] == ["2024-01-15T04:30:00"]


def test_an_empty_key_column_says_where_its_object_column_holds_a_plain_value(
    ws, write_file, stored
):
    """{"user": "C2"} beside {"user": {"id": "C1"}}: row 2's user.id was said to be only
    "empty", and the C2 it holds went unmentioned."""
    records = [
        {"event_type": "page_view", "user": {"id": "C1"}, "event_timestamp": "2024-01-15T10:00:00"},
        {"event_type": "page_view", "user": "C2", "event_timestamp": "2024-01-15T11:00:00"},
        {"event_type": "purchase", "user": {"id": "C3"}, "event_timestamp": "2024-01-15T12:00:00"},
        {"event_type": "purchase", "user": {"name": "x"}, "event_timestamp": "2024-01-15T13:00:00"},
    ]
    text = "".join(json.dumps(record) + "\n" for record in records)
    result = load(ws, write_file("mixed.jsonl", text), dataset="events")
    assert result.report.mapping["customer_id"] == "user.id"
    [empty] = [w for w in result.report.warnings if w.field == "customer_id"]
    assert "empty in 2 row(s): 2, 4" in empty.problem
    assert "in 1 of them column 'user' holds a plain value, not an object (row 2: 'C2')" in (
        empty.problem
    )
    assert [row["customer_id"] for row in stored("events")] == ["C1", None, "C3", None]
    # objects only: nothing more is said
    clean = "".join(json.dumps(record) + "\n" for record in records if record["user"] != "C2")
    result = load(ws, write_file("objects.jsonl", clean), dataset="events")
    [empty] = [w for w in result.report.warnings if w.field == "customer_id"]
    assert "plain value" not in empty.problem


def test_a_key_repeated_inside_an_object_is_warned_like_a_records_own(ws, write_file, stored):
    text = (
        '{"event_type":"page_view","user":{"id":"C1","id":"C9"},"event_timestamp":"2024-01-15"}\n'
        '{"event_type":"page_view","user":{"id":"C2"},"event_timestamp":"2024-01-15"}\n'
    )
    result = load(ws, write_file("dupkeys.jsonl", text), dataset="events")
    assert result.report.mapping["customer_id"] == "user.id"
    assert [row["customer_id"] for row in stored("events")] == ["C1", "C2"]
    [warning] = result.report.warnings
    assert (warning.row, warning.column) == (1, "user")
    assert "key 'id' appears more than once in this record's 'user' object" in warning.problem
    assert result.report.warning_summary == {"duplicate keys": 1}
