"""The public API: ``citylink.__all__`` is sorted, complete, and every name in it exists."""
from __future__ import annotations

import inspect

import citylink


def test_all_is_sorted_and_unique():
    assert citylink.__all__ == sorted(citylink.__all__)
    assert len(set(citylink.__all__)) == len(citylink.__all__)


def test_every_exported_name_exists():
    for name in citylink.__all__:
        assert hasattr(citylink, name), name


def test_all_is_complete():
    """Every public class / function the package module binds is exported (sub-modules are not)."""
    bound = {n for n, v in vars(citylink).items()
             if not n.startswith("_") and not inspect.ismodule(v) and n != "annotations"}
    assert bound - set(citylink.__all__) == set()


def test_version():
    assert citylink.__version__ == "0.1.0"


def test_star_import(tmp_path):
    ns: dict = {}
    exec("from citylink import *", ns)
    assert {n for n in ns if not n.startswith("__builtins")} >= set(citylink.__all__) - {"__version__"}


def test_public_names_are_the_real_objects():
    from citylink.normalize.pipeline import Normalizer
    from citylink.platform import Platform
    from citylink.spec.loader import load_paths
    assert citylink.Platform is Platform and citylink.Normalizer is Normalizer and citylink.load_paths is load_paths
    assert issubclass(citylink.SpecError, citylink.CityLinkError)
    assert issubclass(citylink.ConfigError, citylink.CityLinkError)
    assert issubclass(citylink.UnknownSource, citylink.CityLinkError)
