"""Payload formats: byte-exact splitting of transport bodies and decoding of one message."""
from __future__ import annotations

import pytest

from citylink import payload
from citylink.payload import PayloadProblem

JSON, JSONL, CSV = payload.get("json"), payload.get("jsonl"), payload.get("csv")


def test_registry():
    assert {"json", "jsonl", "csv"} <= set(payload.names())
    with pytest.raises(KeyError, match="unknown payload format 'xml'.*csv"):
        payload.get("xml")


# -- JSON -----------------------------------------------------------------------------------------

def test_json_array_split_is_byte_exact_per_element():
    elems = [b'{"a" :  1 }', '{"b":"도봉구", "c": [1, {"d": null}]}'.encode(), b'{"e":"x,y]"}', b'3', b'"s"', b'null']
    data = b" [ " + b" ,\n\t".join(elems) + b" ]\r\n"
    parts = list(JSON.split(data, {}))
    assert [p for p, _ in parts] == elems
    assert [m for _, m in parts] == [{"batch_index": i, "batch_size": len(elems)} for i in range(len(elems))]
    # every element decodes on its own
    assert JSON.decode(parts[1][0], {}) == [{"b": "도봉구", "c": [1, {"d": None}]}]


def test_json_array_split_keeps_escapes_and_unicode_as_sent():
    elem = b'{"k": "\\u00e9\\n\\"q\\"", "n": 1.50e2}'
    [(body, _)] = list(JSON.split(b"[" + elem + b"]", {}))
    assert body == elem  # not re-serialised (1.50e2 stays as written)


def test_json_object_is_one_message_as_is():
    data = b'  {"a": [1, 2]}\n'
    assert list(JSON.split(data, {})) == [(data, {})]


@pytest.mark.parametrize("data", [b"[1, 2", b"[1 2]", b"[1,]", b"[1] x", b"\xff[1]"])
def test_malformed_array_is_archived_whole(data):
    assert list(JSON.split(data, {})) == [(data, {})]


def test_array_with_records_path_is_not_split():
    data = b'[{"readings": []}]'
    assert list(JSON.split(data, {"records": "readings"})) == [(data, {})]


def test_empty_array_is_no_message():
    assert list(JSON.split(b" [ ] ", {})) == []


def test_json_split_in_another_encoding_is_byte_exact():
    elems = ['{"name": "도봉구청"}'.encode("cp949"), '{"name": "쌍문동"}'.encode("cp949")]
    data = b"[" + b",".join(elems) + b"]"
    assert [p for p, _ in JSON.split(data, {"encoding": "cp949"})] == elems
    assert JSON.decode(elems[0], {"encoding": "cp949"}) == [{"name": "도봉구청"}]


def test_json_decode_records_path_sees_the_root():
    body = b'{"gw": "g1", "site": {"id": 7}, "readings": [{"sn": 1}, {"sn": 2}]}'
    recs = JSON.decode(body, {"records": "readings"})
    assert [r["sn"] for r in recs] == [1, 2]
    assert recs[0]["$"]["gw"] == "g1"


def test_json_decode_problems():
    with pytest.raises(PayloadProblem) as ei:
        JSON.decode(b'{"a": 1,\n "b": }', {})
    assert ei.value.type == "malformed_json" and ei.value.where == "line 2 column 7"
    with pytest.raises(PayloadProblem) as ei:
        JSON.decode(b'{"a": "\xc3\x28"}', {})
    assert ei.value.type == "undecodable_text" and ei.value.where == "byte 7"
    with pytest.raises(PayloadProblem) as ei:
        JSON.decode(b'{"readings": 1}', {"records": "readings"})
    assert ei.value.type == "no_records"
    with pytest.raises(PayloadProblem) as ei:
        JSON.decode(b'{"a": 1}', {"encoding": "no-such-codec"})
    assert ei.value.type == "undecodable_text"


# -- JSON lines ------------------------------------------------------------------------------------

def test_jsonl_split_one_message_per_non_blank_line():
    data = b'{"a": 1}\n\n   \n{"b": "\xeb\x8f\x84"}\r\n{bad\n'
    assert list(JSONL.split(data, {})) == [(b'{"a": 1}', {"line": 1}), (b'{"b": "\xeb\x8f\x84"}', {"line": 4}),
                                            (b"{bad", {"line": 5})]


def test_jsonl_decode():
    assert JSONL.decode(b'{"a": 1}\n{"a": 2}\n', {}) == [{"a": 1}, {"a": 2}]
    with pytest.raises(PayloadProblem) as ei:
        JSONL.decode(b'{"a": 1}\n{"a": }\n', {})
    assert ei.value.type == "malformed_json" and ei.value.where.startswith("line 2")
    with pytest.raises(PayloadProblem) as ei:
        JSONL.decode(b"\n \n", {})
    assert ei.value.type == "no_records"


# -- CSV -------------------------------------------------------------------------------------------

def test_csv_split_keeps_the_header_and_the_row_bytes():
    data = b"id,note,v\r\n1,plain,3\r\n2,\"two\r\nlines\",4\r\n\r\n3,\"q \"\"x\"\"\",5"
    parts = list(CSV.split(data, {}))
    assert parts == [(b"id,note,v\r\n1,plain,3\r\n", {"line": 2}),
                     (b"id,note,v\r\n2,\"two\r\nlines\",4\r\n", {"line": 3}),
                     (b"id,note,v\r\n3,\"q \"\"x\"\"\",5", {"line": 6})]
    assert CSV.decode(parts[1][0], {}) == [{"id": "2", "note": "two\r\nlines", "v": "4"}]
    assert CSV.decode(parts[2][0], {}) == [{"id": "3", "note": 'q "x"', "v": "5"}]


def test_csv_split_header_only_and_no_trailing_newline():
    assert list(CSV.split(b"id,v\n", {})) == []
    assert list(CSV.split(b"id,v", {})) == []
    assert list(CSV.split(b"id,v\n1,2", {})) == [(b"id,v\n1,2", {"line": 2})]


def test_csv_split_in_cp949_keeps_the_original_bytes():
    data = "관측소,값\n도봉,1\n쌍문,2\n".encode("cp949")
    parts = list(CSV.split(data, {"encoding": "cp949"}))
    head = "관측소,값\n".encode("cp949")
    assert [p for p, _ in parts] == [head + "도봉,1\n".encode("cp949"), head + "쌍문,2\n".encode("cp949")]
    assert CSV.decode(parts[0][0], {"encoding": "cp949"}) == [{"관측소": "도봉", "값": "1"}]


def test_csv_split_with_another_delimiter():
    data = b"a;b\n1;\"x;y\"\n"
    cfg = {"csv": {"delimiter": ";"}}
    [(body, meta)] = list(CSV.split(data, cfg))
    assert body == data and CSV.decode(body, cfg) == [{"a": "1", "b": "x;y"}]


def test_csv_split_undecodable_is_archived_whole():
    data = b"a,b\n1,\xff\n"
    assert list(CSV.split(data, {})) == [(data, {})]


def test_csv_decode_problems():
    assert CSV.decode("\ufeffa,b\n1,2\n".encode(), {}) == [{"a": "1", "b": "2"}]  # BOM dropped
    with pytest.raises(PayloadProblem) as ei:
        CSV.decode(b"a,b\n1,2,3\n", {})
    assert ei.value.type == "malformed_csv" and ei.value.where == "line 2"
    with pytest.raises(PayloadProblem) as ei:
        CSV.decode(b"a,b\n", {})
    assert ei.value.type == "no_records"
    with pytest.raises(PayloadProblem) as ei:
        CSV.decode(b'a,b\n1,"open\n', {})
    assert ei.value.type == "malformed_csv"


# -- the standard parser's refusals are payload problems, never crashes --------------------------------

@pytest.mark.parametrize("fmt,cfg", [(JSON, {}), (JSON, {"encoding": "cp949"}), (JSONL, {})])
def test_integer_of_more_than_4300_digits_is_malformed_json(fmt, cfg):
    with pytest.raises(PayloadProblem) as ei:
        fmt.decode(b'{"a": ' + b"1" * 5000 + b"}", cfg)
    assert ei.value.type == "malformed_json" and "4300" in str(ei.value)


@pytest.mark.parametrize("fmt,cfg", [(JSON, {}), (JSON, {"encoding": "cp949"}), (JSONL, {})])
def test_lone_surrogate_escape_is_malformed_json(fmt, cfg):
    with pytest.raises(PayloadProblem) as ei:
        fmt.decode(b'{"a": "x\\ud800y"}', cfg)
    assert ei.value.type == "malformed_json" and "surrogate" in str(ei.value)
    # a surrogate pair is a character
    assert fmt.decode(b'{"a": "\\ud83d\\ude00"}', cfg) == [{"a": "\U0001f600"}]


def test_integers_beyond_64_bits_are_read_as_numbers():
    [rec] = JSON.decode(b'{"a": 123456789012345678901234567890, "b": 1' + b"0" * 400 + b'}', {})
    assert rec["a"] == pytest.approx(1.2345678901234568e29) and rec["b"] == 10 ** 400
