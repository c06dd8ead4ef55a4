"""Config schema: defaults, key-naming errors, semantic checks."""

from pathlib import Path

import pytest

from eoml.core.config import config_digest, load_config, load_schema, validate_config
from eoml.core.studies import registered
from eoml.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_is_valid_and_gets_defaults():
    cfg = load_config(REPO / "config" / "config.yaml")
    assert cfg["studies"] == ["radbelt", "lst", "seaice", "scenes", "clouds", "aot"]
    assert cfg["aot"]["source"] == "demo" and cfg["aot"]["grid"] == 5.625
    assert cfg["clouds"]["source"] == "demo" and cfg["clouds"]["embedding"]["backbone"] == "efficientnet_lite0"
    assert cfg["seaice"]["encoder"] == "efficientnet_lite0"
    assert cfg["lst"]["source"] == "demo"
    assert cfg["lst"]["baseline_options"]["tsharp"] == {}
    assert cfg["radbelt"]["source"] == "demo"
    assert cfg["radbelt"]["grid"]["bin_hours"] == 5


def test_empty_config_is_filled_with_schema_defaults():
    cfg = validate_config({})
    rb = cfg["radbelt"]
    assert rb["window"] == 16
    assert rb["leads"] == [5, 10]
    assert rb["split"] == {"train": 0.65, "val": 0.14, "test": 0.21}
    assert rb["training"]["max_epochs"] == 60
    assert rb["features"]["channels"] == ["e2", "e3", "p6"]


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"radbelt": {"window": "x"}}, "radbelt.window"),
        ({"radbelt": {"wndow": 16}}, "radbelt.wndow"),
        ({"radbelt": {"training": {"max_epochs": 0}}}, "radbelt.training.max_epochs"),
        ({"radbelt": {"source": "hdf9"}}, "radbelt.source"),
        ({"studies": ["radbelt", "nope"]}, "studies.1"),
    ],
)
def test_wrong_key_or_type_names_the_key(bad, key):
    with pytest.raises(ConfigError) as err:
        validate_config(bad)
    assert key in str(err.value)


def test_split_must_add_up_to_one():
    with pytest.raises(ConfigError, match="radbelt.split"):
        validate_config({"radbelt": {"split": {"train": 0.5, "val": 0.2, "test": 0.2}}})


def test_premeve_source_needs_a_folder():
    with pytest.raises(ConfigError, match="radbelt.premeve_dir"):
        validate_config({"radbelt": {"source": "premeve_ascii"}})


def test_raw_source_needs_patterns():
    with pytest.raises(ConfigError, match="radbelt.raw.rbsp"):
        validate_config({"radbelt": {"source": "raw", "raw": {"poes": ["a"], "omni": ["b"]}}})


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("radbelt: [unclosed")
    with pytest.raises(ConfigError, match="broken.yaml"):
        load_config(bad)


def test_digest_is_order_independent():
    assert config_digest({"a": 1, "b": [1, 2]}) == config_digest({"b": [1, 2], "a": 1})
    assert config_digest({"a": 1}) != config_digest({"a": 2})


def test_every_schema_property_is_described():
    schema = load_schema()
    assert set(schema["properties"]) == {"studies", *registered()}

    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            assert "description" in sub, f"{path}{name} has no description"
            assert "type" in sub, f"{path}{name} has no type"
            walk(sub, f"{path}{name}.")

    walk(schema, "")


def test_lst_defaults_and_model_entries_get_defaults():
    cfg = validate_config({"lst": {"models": [{"name": "net", "variant": "student", "protocol": "wald"}]}})
    lst = cfg["lst"]
    assert lst["models"] == [{"name": "net", "variant": "student", "protocol": "wald", "ndvi": True}]
    assert lst["evaluation"]["border_crop"] == 16
    assert lst["mixgl"]["alpha"] + lst["mixgl"]["beta"] == 1


@pytest.mark.parametrize(
    "lst, key",
    [
        ({"mixgl": {"alpha": 0.7, "beta": 0.7}}, "lst.mixgl"),
        ({"source": "raw", "raw": {"mod11a1": ["x"]}}, "lst.raw.mod09gq"),
        ({"models": [{"name": "bicubic", "variant": "paper", "protocol": "wald"}]}, "lst.models"),
        ({"lst_range_k": [340, 250]}, "lst.lst_range_k"),
        ({"validation_scenes": [{"name": "a", "lst": "l.tif", "red": "r.tif", "nir": "n.tif",
                                 "lst_kind": "landsat_b10", "factor": 4}]}, "lst.validation_scenes.0"),
        ({"models": [{"name": "n", "variant": "paper", "protocol": "sgd"}]}, "lst.models.0.protocol"),
    ],
)
def test_lst_semantic_errors_name_the_key(lst, key):
    with pytest.raises(ConfigError) as err:
        validate_config({"studies": ["lst"], "lst": lst})
    assert key in str(err.value)


@pytest.mark.parametrize(
    "seaice, key",
    [
        ({"split": {"test": ["a"], "half": ["a"], "train": []}}, "seaice.split"),
        ({"split": {"test": ["a"], "half": [], "train": ["b"]}}, "seaice.split.half"),
        ({"source": "raw", "raw": {"scenes": [{"id": "a", "safe": "a.zip", "chart": "a.json"}]},
          "split": {"test": ["a"], "half": ["b"], "train": []}}, "seaice.split"),
        ({"encoder": "vgg19"}, "seaice.encoder"),
        ({"training": {"batch_size": 1}}, "seaice.training.batch_size"),
    ],
)
def test_seaice_errors_name_the_key(seaice, key):
    with pytest.raises(ConfigError) as err:
        validate_config({"studies": ["seaice"], "seaice": seaice})
    assert key in str(err.value)


def test_seaice_defaults_are_the_papers():
    si = validate_config({})["seaice"]
    assert si["encoder"] == "resnet18" and si["inits"] == ["imagenet", "random"] and si["seeds"] == [0, 1, 2]
    assert si["training"]["learning_rate"] == 1e-5 and si["training"]["early_stopping_patience"] == 20
    assert si["resolution_m"] == 80.0 and si["patches"]["size"] == 1000


def test_no_study_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match="studies: \\[\\] should be non-empty"):
        validate_config({"studies": []})
    with pytest.raises(ConfigError, match="studies.0"):
        validate_config({"studies": ["nosuchstudy"]})


def test_studies_default_to_every_registered_one():
    assert validate_config({})["studies"] == list(registered())


def test_duplicate_names_are_refused():
    scenes = [{"id": "a", "safe": "a.zip", "chart": "a.json"}, {"id": "a", "safe": "b.zip", "chart": "b.json"}]
    with pytest.raises(ConfigError, match="seaice.raw.scenes: scene ids must be unique"):
        validate_config({"studies": ["seaice"], "seaice": {
            "source": "raw", "raw": {"scenes": scenes}, "split": {"test": ["a"], "half": ["b"], "train": []}}})
    scene = {"name": "landsat_demo", "lst": "l.tif", "red": "r.tif", "nir": "n.tif", "lst_kind": "kelvin",
             "factor": 4}
    with pytest.raises(ConfigError, match="lst.validation_scenes: names must be unique"):
        validate_config({"studies": ["lst"], "lst": {"validation_scenes": [scene]}})
    twice = [dict(scene, name="mine"), dict(scene, name="mine")]
    with pytest.raises(ConfigError, match="mine"):
        validate_config({"studies": ["lst"], "lst": {"source": "raw", "raw": {"mod11a1": ["a"], "mod09gq": ["b"]},
                                                     "validation_scenes": twice}})
