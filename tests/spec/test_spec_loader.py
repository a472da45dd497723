"""The spec loader reports every problem as ``file:line: path: message`` with the right line."""
from __future__ import annotations

import pytest

from cltest import AIR_SERVICE, air_source, line_of, spec_dir
from citylink.config import BUNDLED_SPECS
from citylink.errors import SpecError, SpecProblem
from citylink.spec.loader import load_paths, load_texts


def problems(tmp_path, files: dict[str, str]) -> list[SpecProblem]:
    d = spec_dir(tmp_path / "specs", files)
    with pytest.raises(SpecError) as ei:
        load_paths([d])
    # str(SpecError) is the problems, one per line
    assert str(ei.value).splitlines() == [str(p) for p in ei.value.problems]
    return ei.value.problems


def only(tmp_path, files, **kw) -> SpecProblem:
    ps = problems(tmp_path, files)
    assert len(ps) == 1, [str(p) for p in ps]
    return ps[0]


def assert_at(p: SpecProblem, tmp_path, file: str, line: int, path: str, *fragments: str, type: str | None = None):
    expected_file = str(tmp_path / "specs" / file)
    assert p.file == expected_file
    assert p.line == line, str(p)
    assert p.path == path, str(p)
    assert str(p).startswith(f"{expected_file}:{line}: {path or '(document)'}: "), str(p)
    for f in fragments:
        assert f in p.msg, str(p)
    if type:
        assert p.type == type


def with_air(src: str, name: str = "src.yaml") -> dict[str, str]:
    return {"service.yaml": AIR_SERVICE, name: src}


# -- pass 1: YAML and schema ---------------------------------------------------------------

def test_yaml_syntax_error_line(tmp_path):
    src = air_source(fields="  temperature: {from: t}}\n")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "temperature: {from: t}}"), "", "YAML syntax", type="yaml_syntax")


def test_yaml_tab_indentation_error_line(tmp_path):
    src = air_source(fields="  temperature: {from: t}\n\tstationName: {from: n}\n")
    p = only(tmp_path, with_air(src))
    assert p.type == "yaml_syntax"
    assert p.line == line_of(src, "\tstationName")


def test_unknown_top_level_key(tmp_path):
    src = air_source() + "colour: red\n"
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "colour: red"), "colour", "unknown key 'colour'")


def test_unknown_nested_key(tmp_path):
    src = air_source(ts="\n  field: ts\n  format: iso8601\n  tz: Asia/Seoul")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "tz: Asia/Seoul"), "timestamp.tz", "unknown key 'tz'")


def test_unknown_key_in_field_mapping(tmp_path):
    src = air_source(fields="  temperature:\n    from: t\n    units: CEL\n")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "units: CEL"), "fields.temperature.units", "'units'")


def test_missing_required_top_level_key(tmp_path):
    src = air_source().replace("version: 1.0.0\n", "")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", 1, "", "missing required key", "'version'", type="schema_required")


def test_missing_required_nested_key(tmp_path):
    src = air_source(ts="\n  field: ts")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "timestamp:"), "timestamp", "missing required key", "'format'")


def test_service_unknown_unit_code(tmp_path):
    svc = AIR_SERVICE.replace("temperature: {type: Number, unit: CEL,", "temperature: {type: Number, unit: XYZ,")
    p = only(tmp_path, {"service.yaml": svc, "src.yaml": air_source()})
    assert_at(p, tmp_path, "service.yaml", line_of(svc, "unit: XYZ"),
              "entity_types.AirQualityObserved.attributes.temperature.unit", "unknown unit 'XYZ'", type="unknown_unit")


def test_source_unknown_unit_code(tmp_path):
    src = air_source(fields="  temperature:\n    from: t\n    unit: DEGC\n")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "unit: DEGC"), "fields.temperature.unit", "unknown unit 'DEGC'")


def test_unit_not_convertible(tmp_path):
    # relativeHumidity is a ratio (C62): a Celsius reading cannot become one
    src = air_source(fields="  temperature: {from: t}\n  relativeHumidity:\n    from: rh\n    unit: CEL\n")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "unit: CEL"), "fields.relativeHumidity.unit",
              "cannot convert CEL", "C62", type="unit_mismatch")


def test_ppb_to_mass_concentration_needs_molar_mass(tmp_path):
    src = air_source(fields="  temperature: {from: t}\n  hcho: {from: h, unit: '61'}\n")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "hcho:"), "fields.hcho.unit", "molar_mass")


def test_ppb_to_mass_concentration_with_molar_mass_loads(tmp_path):
    src = air_source(fields="  temperature: {from: t}\n  hcho: {from: h, unit: '61', molar_mass: 30.03}\n")
    specs = load_paths([spec_dir(tmp_path / "specs", with_air(src))])
    assert "air-a" in specs.sources


def test_unknown_attribute_in_fields(tmp_path):
    src = air_source(fields="  temperature: {from: t}\n  humidity: {from: h}\n")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "humidity:"), "fields.humidity", "no attribute 'humidity'",
              type="unknown_attribute")


def test_unknown_service(tmp_path):
    src = air_source().replace("service: air", "service: water")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "service: water"), "service", "no service 'water'", "air",
              type="unknown_service")


def test_unknown_entity_type(tmp_path):
    src = air_source().replace("type: AirQualityObserved", "type: WaterQualityObserved")
    p = only(tmp_path, with_air(src))
    assert p.type == "unknown_entity_type"
    assert p.line == line_of(src, "WaterQualityObserved")
    assert p.path == "entity.type"


def test_unknown_timezone(tmp_path):
    src = air_source(ts="\n  field: ts\n  format: iso8601\n  timezone: Mars/Olympus_Mons")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "timezone:"), "timestamp.timezone", "Mars/Olympus_Mons")


@pytest.mark.parametrize("fmt", ["%Y%m%Q", "%Y-%m-%d %H:%M:%", "YYYYMMDDHH"])
def test_bad_strptime_format(tmp_path, fmt):
    src = air_source(ts=f"\n  field: ts\n  format: '{fmt}'")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "format: '"), "timestamp.format", fmt)


def test_unknown_crs(tmp_path):
    src = air_source(body="position:\n  x: px\n  y: py\n  crs: 'EPSG:999999'\n")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "crs:"), "position.crs", "EPSG:999999", type="unknown_crs")


@pytest.mark.parametrize("expr,fragment", [
    ("temperature * foo", "unknown name 'foo'"),
    ("evil(temperature)", "unknown function 'evil'"),
    ("temperature *", "syntax error"),
])
def test_bad_expression(tmp_path, expr, fragment):
    src = air_source(fields=f"  temperature: {{from: t}}\n  relativeHumidity:\n    expr: '{expr}'\n")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "expr:"), "fields.relativeHumidity.expr", fragment,
              type="bad_expression")


def test_expression_in_let_with_unknown_name(tmp_path):
    src = air_source(body="let:\n  k:\n    expr: 'nope + 1'\n")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "nope + 1"), "let.k.expr", "unknown name 'nope'")


def test_map_value_not_in_code_table(tmp_path):
    src = air_source(fields="  temperature: {from: t}\n  state:\n    from: s\n    map: {'0': ok, '1': broken}\n")
    p = only(tmp_path, with_air(src))
    assert_at(p, tmp_path, "src.yaml", line_of(src, "map:"), "fields.state.map", "'broken'", "code table",
              type="map_not_in_codes")


def test_required_attribute_not_mapped(tmp_path):
    svc = (BUNDLED_SPECS / "waste-bins/service.yaml").read_text()
    src = (BUNDLED_SPECS / "waste-bins/sources/bins-acme-http.yaml").read_text()
    src = src.replace("  fillingLevel: {from: fill_pct, unit: P1}\n", "").replace("devices: ../devices/bins-acme-http.csv\n", "")
    p = only(tmp_path, {"service.yaml": svc, "acme.yaml": src})
    assert_at(p, tmp_path, "acme.yaml", line_of(src, "fields:"), "fields", "'fillingLevel'", "not mapped",
              type="required_not_mapped")


def test_duplicate_source_id(tmp_path):
    a = air_source()
    b = "# the same id again\n" + air_source()
    p = only(tmp_path, {"service.yaml": AIR_SERVICE, "a.yaml": a, "b.yaml": b})
    assert_at(p, tmp_path, "b.yaml", line_of(b, "id: air-a"), "id", "also defined in", "a.yaml",
              type="duplicate_id")


def test_the_api_writes_source_id_is_reserved(tmp_path):
    src = air_source().replace("id: air-a", "id: ngsi-ld-api")
    p = only(tmp_path, {"service.yaml": AIR_SERVICE, "a.yaml": src})
    assert_at(p, tmp_path, "a.yaml", line_of(src, "id: ngsi-ld-api"), "id", "platform's own", type="reserved_id")


def test_duplicate_service_id(tmp_path):
    ps = problems(tmp_path, {"s1.yaml": AIR_SERVICE, "s2.yaml": AIR_SERVICE, "src.yaml": air_source()})
    assert [p.type for p in ps] == ["duplicate_id"]
    assert ps[0].file.endswith("s2.yaml") and ps[0].line == 2


def test_range_min_above_max(tmp_path):
    svc = AIR_SERVICE.replace("range: [-40, 60]", "range: [60, -40]")
    p = only(tmp_path, {"service.yaml": svc, "src.yaml": air_source()})
    assert p.type == "range_order" and p.line == line_of(svc, "range: [60, -40]")


def test_many_problems_in_many_files_are_all_reported(tmp_path):
    a = air_source("air-a") + "colour: red\n"                          # schema
    b = air_source("air-b").replace("service: air", "service: water")    # reference
    c = air_source("air-c", fields="  temperature: {from: t}\n  humidity: {from: h}\n")  # reference
    ps = problems(tmp_path, {"service.yaml": AIR_SERVICE, "a.yaml": a, "b.yaml": b, "c.yaml": c})
    got = {(p.file.rsplit("/", 1)[-1], p.line, p.type) for p in ps}
    assert got == {("a.yaml", line_of(a, "colour"), "schema_additionalProperties"),
                   ("b.yaml", line_of(b, "service: water"), "unknown_service"),
                   ("c.yaml", line_of(c, "humidity"), "unknown_attribute")}


def test_many_compile_problems_in_one_source_are_all_reported(tmp_path):
    src = air_source(
        ts="\n  field: ts\n  format: iso8601\n  timezone: Nowhere/City",
        body="position: {x: px, y: py, crs: 'EPSG:999999'}\n",
        fields="  temperature:\n    from: t\n    unit: KGM\n  relativeHumidity:\n    expr: 'zzz'\n")
    ps = problems(tmp_path, with_air(src))
    got = {(p.path, p.line) for p in ps}
    assert got == {("timestamp.timezone", line_of(src, "Nowhere/City")),
                   ("position.crs", line_of(src, "position:")),
                   ("fields.temperature.unit", line_of(src, "unit: KGM")),
                   ("fields.relativeHumidity.expr", line_of(src, "expr: 'zzz'"))}


def test_problem_without_line_has_no_colon_number():
    p = SpecProblem("x", "f.yaml", None, "", "broken")
    assert str(p) == "f.yaml: (document): broken"


def test_no_spec_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError) as ei:
        load_paths([tmp_path / "empty"])
    assert ei.value.problems[0].type == "no_specs"


def test_unknown_format_line(tmp_path):
    text = "# comment\ncitylink: source/9\nid: x\n"
    p = only(tmp_path, {"x.yaml": text})
    assert p.type == "unknown_format" and p.line == 2 and p.path == "citylink"


def test_shipped_specs_pass():
    specs = load_paths([BUNDLED_SPECS])
    assert "waste-bins" in specs.services
    assert {"bins-acme-http", "bins-bravo-gateway"} <= set(specs.sources)
    for src in specs.sources.values():
        assert src.service in specs.services
    acme = specs.sources["bins-acme-http"]
    assert acme.namespace == "acme" and acme.live
    assert acme.origin.file.endswith("bins-acme-http.yaml")
    # dates in YAML stay text (not datetime.date)
    assert acme.changelog[0]["date"] == "2026-11-26"


def test_load_texts_labels_problems_with_the_given_name():
    with pytest.raises(SpecError) as ei:
        load_texts([("memory:svc", AIR_SERVICE), ("memory:src", air_source() + "x: 1\n")])
    assert str(ei.value).startswith("memory:src:")


def test_every_shipped_example_would_be_stored():
    """The examples in the shipped specs are documentation for vendors: each must pass its own spec."""
    import orjson

    from cltest import manual_clock
    from citylink.normalize.check import check_feed

    specs = load_paths([BUNDLED_SPECS])
    for sid, src in specs.sources.items():
        ex = src.payload.get("example")
        assert ex is not None, f"{sid} has no payload.example"
        data = ex.encode() if isinstance(ex, str) else orjson.dumps(ex)
        reports = check_feed(specs, sid, data, clock=manual_clock())
        assert reports, sid
        for r in reports:
            assert r["outcome"] in ("stored", "stored_flagged"), (sid, r)
            assert r["values"], (sid, r)


def test_one_type_means_one_thing_by_an_attribute_in_every_service(tmp_path):
    other = (AIR_SERVICE.replace("id: air", "id: air-two")
             .replace("      hcho: {type: Number, unit: GQ}", "      hcho: {type: Number, unit: GQ, iri: 'https://example.org/hcho'}"))
    d = spec_dir(tmp_path / "specs", {"a/service.yaml": AIR_SERVICE, "b/service.yaml": other})
    with pytest.raises(SpecError) as e:
        load_paths([d])
    [p] = e.value.problems
    assert p.type == "term_collision" and p.path == "entity_types.AirQualityObserved.attributes.hcho"
    assert p.file.endswith("b/service.yaml") and p.line == other.splitlines().index(
        "      hcho: {type: Number, unit: GQ, iri: 'https://example.org/hcho'}") + 1
