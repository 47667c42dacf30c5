"""The model registry: atomic versions, checksums, HMAC and pickle-free loading."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from generator.errors import ArtifactIntegrityError, LongtailInputError, ModelNotFoundError
from generator.registry import Registry

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


def test_register_and_load_same_samples(taobao_model, registry):
    ref = registry.register(taobao_model, "taobao-buy")
    loaded = registry.load("taobao-buy")

    assert (ref.model_id, ref.version) == ("taobao-buy", 1)
    expected = taobao_model.sample(300, conditions={"item_tier": "tail"}, seed=3).rows
    pd.testing.assert_frame_equal(loaded.sample(300, conditions={"item_tier": "tail"}, seed=3).rows, expected)
    assert loaded.manifest["version"] == 1


def test_register_increments_version(taobao_model, registry):
    assert registry.register(taobao_model, "m").version == 1
    assert registry.register(taobao_model, "m").version == 2
    assert registry.versions("m") == [1, 2]
    assert registry.list_models()[0]["versions"] == [1, 2]
    assert registry.manifest("m", 1)["version"] == 1


def test_artifact_contains_no_pickle(taobao_model, registry):
    ref = registry.register(taobao_model, "m")
    suffixes = {path.suffix for path in ref.path.rglob("*") if path.is_file()}
    assert suffixes <= {".json", ".parquet", ".pt", ".npz"}, suffixes
    assert not any(path.suffix in (".pkl", ".pickle", ".joblib") for path in ref.path.rglob("*"))


def test_failed_registration_leaves_nothing(taobao_model, registry, monkeypatch):
    def fail(directory):
        (directory / "engine").mkdir(parents=True)
        raise OSError("disk full")

    monkeypatch.setattr(taobao_model.engine, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        registry.register(taobao_model, "m")
    assert registry.versions("m") == []
    assert list((registry.root / "m").iterdir()) == []


def test_load_tampered_weights(taobao_model, registry):
    ref = registry.register(taobao_model, "m")
    weights = next((ref.path / "engine").glob("*.pt"))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match=r"File engine/.*\.pt of model 'm' version 1 is corrupted or was modified"):
        registry.load("m")


def test_load_added_file(taobao_model, registry):
    ref = registry.register(taobao_model, "m")
    (ref.path / "engine" / "evil.pkl").write_bytes(b"cos\nsystem\n")
    with pytest.raises(ArtifactIntegrityError, match=r"unexpected \['engine/evil\.pkl'\]"):
        registry.load("m")


def test_load_wrong_hmac_key(taobao_model, registry):
    registry.register(taobao_model, "m")
    with pytest.raises(ArtifactIntegrityError, match="does not match this server's key"):
        Registry(registry.root, hmac_key=b"another key").load("m")


def test_load_resigned_checksums_without_key(taobao_model, registry):
    """A forger who rewrites checksums.json without the key cannot produce a valid HMAC."""
    ref = registry.register(taobao_model, "m")
    listing = json.loads((ref.path / "checksums.json").read_text())
    listing["hmac"] = "0" * 64
    (ref.path / "checksums.json").write_text(json.dumps(listing))
    with pytest.raises(ArtifactIntegrityError, match="HMAC"):
        registry.load("m")


def test_load_unknown_model(registry):
    with pytest.raises(ModelNotFoundError, match=r"Model 'nope' not found in the registry\. Known models: \[\]"):
        registry.load("nope")


def test_load_unknown_version(taobao_model, registry):
    registry.register(taobao_model, "m")
    with pytest.raises(ModelNotFoundError, match=r"Model 'm' has no version 7; versions are \[1\]"):
        registry.load("m", 7)


@pytest.mark.parametrize("model_id", ["../escape", "", "a/b", ".hidden", "x" * 65])
def test_register_invalid_model_id(taobao_model, registry, model_id):
    with pytest.raises(LongtailInputError, match="Invalid model id"):
        registry.register(taobao_model, model_id)


@pytest.mark.parametrize("model_id", ["uploads", "jobs.sqlite3", "models.db"])
def test_register_reserved_model_id(taobao_model, registry, model_id):
    with pytest.raises(LongtailInputError, match="the registry folder uses that name for its own files"):
        registry.register(taobao_model, model_id)


def test_manifest_verified_before_use(taobao_model, registry):
    ref = registry.register(taobao_model, "m")
    manifest = json.loads((ref.path / "manifest.json").read_text())
    manifest["fidelity"]["scores"]["overall"] = 0.99
    (ref.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactIntegrityError, match=r"File manifest\.json of model 'm' version 1 is corrupted or was modified"):
        registry.manifest("m")
    assert registry.list_models() == []


def test_load_version_as_text(taobao_model, registry):
    registry.register(taobao_model, "m")
    assert registry.load("m", "1").manifest["version"] == 1
    with pytest.raises(ModelNotFoundError, match=r"Invalid version 'one' of model 'm'"):
        registry.load("m", "one")
