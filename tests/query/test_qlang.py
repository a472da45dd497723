"""The q= language: what it means, and every mistake named with where it is."""
from __future__ import annotations

import pytest

from citylink.query.qlang import (And, Compare, DateTimeValue, Exists, Or, Path, Pattern, QueryError, Range, attributes,
                                  parse)


def test_comparisons_and_precedence():
    assert parse("a>0.8") == Compare(Path("a"), ">", (0.8,))
    assert parse('a==1;b=="x"|c') == Or((And((Compare(Path("a"), "==", (1,)), Compare(Path("b"), "==", ("x",)))),
                                         Exists(Path("c"))))
    assert parse('a==1;(b=="x"|c)') == And((Compare(Path("a"), "==", (1,)),
                                            Or((Compare(Path("b"), "==", ("x",)), Exists(Path("c"))))))


def test_values():
    assert parse("a==true").values == (True,) and parse("a!=false").values == (False,)
    assert parse("a==-1.5e3").values == (-1500.0,) and parse("a==7").values == (7,)
    assert parse("a==2026-11-26T09:00:00+09:00").values == (DateTimeValue(1795651200000000, "2026-11-26T09:00:00+09:00"),)
    assert parse("a==urn:ngsi-ld:Thing:1").values == ("urn:ngsi-ld:Thing:1",)
    assert parse(r'a=="say \"hi\""').values == ('say "hi"',)
    assert parse('a=="ok","lidOpen"') == Compare(Path("a"), "==", ("ok", "lidOpen"))
    assert parse("a==1..5") == Range(Path("a"), 1, 5)
    assert parse("a!=2026-01-01..2026-02-01").negate


def test_paths_members_and_patterns():
    assert parse("address[district][name]==\"도봉\"").path == Path("address", ("district", "name"))
    assert parse("fillingLevel.observedAt>=2026-11-26T00:00:00Z").path == Path("fillingLevel", (), "observedAt")
    assert parse("https://smartdatamodels.org/dataModel.WasteManagement/fillingLevel>0.5").path.attr == \
        "https://smartdatamodels.org/dataModel.WasteManagement/fillingLevel"
    assert parse("name~=^Dobong.*") == Pattern(Path("name"), "^Dobong.*")
    assert parse('name!~="a|b";x') == And((Pattern(Path("name"), "a|b", negate=True), Exists(Path("x"))))
    assert attributes(parse("a>1;(b|c[x]==2)")) == {"a", "b", "c"}


@pytest.mark.parametrize("q, says", [
    ("", "empty"), ("a>", "expected a value (at character 3)"), ('a=="x', "closing quote"),
    ("(a>1", "'(' without its ')' (at character 1)"), ("a>1)", "unexpected ')' (at character 4)"),
    ("a.foo>1", "after a '.' comes one of observedAt"), ("a~=(", "is not a regular expression"),
    ("a>true", "does not compare true or false"), ('a==1.."x"', "mixes kinds of value"), ("a=1", "expected an operator"),
    ("a>1,2", "a list of values needs == or !="), ("a>1..2", "a range needs == or !="),
    ("a==2026-13-45", "is not a date"), ("a==2026-11-26T09:00:00", "has no time zone"),
    ("a[x>1", "'[' without its ']'"), ("a~=" + "x" * 201, "longer than 200"), ("a>1;" * 70 + "a>1", "more than 64 terms"),
    ("a" * 4001, "longer than 4000"),
])
def test_mistakes_say_what_and_where(q, says):
    with pytest.raises(QueryError) as e:
        parse(q)
    assert says in str(e.value)
