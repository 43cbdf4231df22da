"""The definitions shipped as data (annotators/, models/) and the generic registry."""

from __future__ import annotations

import pytest

from preference_dissect.annotate import load_attribute_set
from preference_dissect.definitions import (
    annotator_file,
    annotator_names,
    definitions_root,
    model_names,
    query_group_names,
    taxonomy,
)
from preference_dissect.errors import InputError
from preference_dissect.registry import Registry


def test_gair29_has_the_29_attributes_in_weight_order():
    attrs = load_attribute_set("gair29").attributes
    assert len(attrs) == 29
    assert attrs[0].name == "harmless"
    assert attrs[22].label == "no severe errors"
    assert attrs[28].compare == "length_rule"
    assert attrs[15].compare == "negated_sign"
    assert attrs[25].trigger == "w_constraints" and attrs[25].per_item == "constraints"


def test_taxonomy_maps_fine_scenarios_to_11_groups():
    tax = taxonomy()
    assert len(tax["groups"]) == 11
    assert "chitchat" in tax["groups"]["Communication"]
    assert set(query_group_names()) == {
        "intent_unclear",
        "express_feeling",
        "w_constraints",
        "w_stances",
        "w_mistakes",
    }


def test_bundled_definitions_live_in_the_top_level_folders():
    root = definitions_root("annotators")
    assert root.name == "annotators" and (root / "gair29" / "prompts" / "errors.jinja").is_file()
    assert {"gair29", "rules", "sharma24", "judge", "classifier"} <= set(annotator_names())
    assert {"logistic", "linear"} <= set(model_names())
    assert (definitions_root("models") / "prices" / "openai.yaml").is_file()


def test_user_yaml_path_and_errors(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("name: mine\nattributes: [{name: a, definition: d}]\n")
    assert load_attribute_set(f).name == "mine" and annotator_file(f) == f
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(InputError) as err:
        load_attribute_set(bad)
    assert "bad.yaml" in err.value.one_line()
    with pytest.raises(InputError, match=r"unknown annotator 'no-such-set'.*gair29"):
        load_attribute_set("no-such-set")
    with pytest.raises(InputError, match="is the judge, not an attribute set"):
        load_attribute_set("judge")


def test_registry_lists_valid_choices_and_resolves_aliases():
    reg: Registry[int] = Registry("widget", "widget")
    reg.add("one", 1, aliases=("uno",))
    assert reg.get("uno") == 1 and "uno" in reg and reg.names() == ["one"]
    with pytest.raises(InputError) as err:
        reg.get("two")
    assert err.value.one_line() == "field 'widget': unknown widget 'two' (valid: one)"
    with pytest.raises(ValueError, match="registered already"):
        reg.add("one", 2)
