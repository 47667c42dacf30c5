"""Request checks of the service: strict types, content types, reserved model ids, the keyed OpenAPI
document, server paths in messages, the model cache and the column types of empty batches."""

from __future__ import annotations

import io
import shutil

import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from api import formats, worker
from api.jobs import FAILED, JobStore
from api.main import create_app
from api.service import ModelService
from generator.errors import InvalidDataError
from tests.api.conftest import READ_KEY, TAOBAO_RELATIVE, auth

SAMPLES = "/v1/models/taobao-buy/samples"
AUGMENTATIONS = "/v1/models/taobao-buy/augmentations"


@pytest.fixture
def client(make_settings, trained_registry, tmp_path):
    app = create_app(make_settings(registry_dir=trained_registry, database_path=tmp_path / "jobs.sqlite3"))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def empty_client(make_settings):
    with TestClient(create_app(make_settings(max_epochs=50))) as test_client:
        yield test_client


def error_of(response) -> dict:
    return response.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (SAMPLES, {"count": True}, "body.count"),
        (SAMPLES, {"count": 5.0}, "body.count"),
        (SAMPLES, {"count": 5, "seed": "3"}, "body.seed"),
        (SAMPLES, {"count": 5, "version": True}, "body.version"),
        (AUGMENTATIONS, {"sampling_strategy": True}, "body.sampling_strategy"),
        (AUGMENTATIONS, {"sampling_strategy": "0.5"}, "body.sampling_strategy"),
        (AUGMENTATIONS, {"sampling_strategy": {"buy": "10"}}, "body.sampling_strategy"),
        (AUGMENTATIONS, {"sampling_strategy": 0.5, "class_counts": {"buy": "10"}}, "body.class_counts.buy"),
        (AUGMENTATIONS, {"sampling_strategy": 0.5, "class_counts": {"buy": True}}, "body.class_counts.buy"),
    ],
)
def test_request_loose_types_return_422(client, path, body, field):
    response = client.post(path, json=body, headers=auth(READ_KEY))

    assert response.status_code == 422
    assert error_of(response)["type"] == "RequestValidationError"
    assert f"{field}" in error_of(response)["message"]


def test_training_loose_types_return_422(empty_client):
    cases = [({"epochs": True}, "epochs"), ({"seed": "1"}, "seed"), ({"long_tail_only": "yes"}, "long_tail_only")]
    for body, field in cases:
        request = {"dataset": {"path": TAOBAO_RELATIVE}, **body}
        response = empty_client.post("/v1/training-jobs", json=request, headers=auth())

        assert response.status_code == 422
        assert f"invalid training request: {field}:" in error_of(response)["message"]


def test_augmentation_integer_strategy_accepted(client):
    response = client.post(
        AUGMENTATIONS,
        json={"sampling_strategy": 1, "class_counts": {"pv": 30, "buy": 20}, "seed": 5},
        headers=auth(READ_KEY),
    )

    assert response.status_code == 200
    assert response.json()["plan"]["n_samples"] == {"buy": 10}


@pytest.mark.parametrize("model_id", ["jobs.sqlite3", "JOBS.sqlite3", "jobs.sqlite3-wal", "jobs.sqlite3-shm",
                                      "jobs.sqlite3-journal", "uploads", "Uploads"])
def test_training_reserved_model_id_returns_422(empty_client, model_id):
    response = empty_client.post(
        "/v1/training-jobs", json={"dataset": {"path": TAOBAO_RELATIVE}, "model_id": model_id}, headers=auth()
    )

    assert response.status_code == 422
    assert error_of(response)["message"] == (
        f"invalid model_id {model_id!r}: the service keeps its own file or folder of that name in the registry "
        "folder; choose another model_id"
    )
    assert empty_client.get("/v1/jobs", headers=auth()).json() == []


def test_training_dot_model_id_returns_422(empty_client):
    response = empty_client.post(
        "/v1/training-jobs", json={"dataset": {"path": TAOBAO_RELATIVE}, "model_id": ".audits"}, headers=auth()
    )

    assert response.status_code == 422
    assert "model_id: String should match pattern" in error_of(response)["message"]


def test_training_configured_database_name_reserved(make_settings, tmp_path):
    settings = make_settings(database_path=tmp_path / "models" / "state.db")
    with TestClient(create_app(settings)) as client:
        for model_id in ("state.db", "state.db-shm", "jobs.sqlite3"):
            response = client.post(
                "/v1/training-jobs", json={"dataset": {"path": TAOBAO_RELATIVE}, "model_id": model_id}, headers=auth()
            )

            assert response.status_code == 422
            assert "keeps its own file or folder of that name" in error_of(response)["message"]


def test_training_default_model_id_reserved(make_settings, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "uploads.csv").write_text("label,value\nbuy,1\npv,2\n", encoding="utf-8")
    with TestClient(create_app(make_settings(data_dir=data_dir))) as client:
        response = client.post("/v1/training-jobs", json={"dataset": {"path": "uploads.csv"}}, headers=auth())

    assert response.status_code == 422
    assert error_of(response)["message"].startswith("invalid model_id 'uploads'")


def test_openapi_needs_key(empty_client):
    missing = empty_client.get("/openapi.json")
    read = empty_client.get("/openapi.json", headers=auth(READ_KEY))

    assert missing.status_code == 401
    assert read.status_code == 200
    assert "/v1/models/{model_id}/samples" in read.json()["paths"]
    assert "/openapi.json" not in read.json()["paths"]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_docs_pages_are_removed(empty_client, path):
    assert empty_client.get(path).status_code == 404
    assert empty_client.get(path, headers=auth(READ_KEY)).status_code == 404


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_samples_non_json_content_type_returns_415(client, content_type):
    headers = auth(READ_KEY) if content_type is None else {**auth(READ_KEY), "Content-Type": content_type}
    response = client.post(SAMPLES, content=b'{"count": 5}', headers=headers)

    expected = repr(content_type) if content_type else "missing"
    assert response.status_code == 415
    assert error_of(response)["type"] == "UnsupportedMediaType"
    assert error_of(response)["message"] == f"unsupported Content-Type {expected}: send the body as application/json"


def test_samples_json_subtype_accepted(client):
    headers = {**auth(READ_KEY), "Content-Type": "application/merge-patch+json; charset=utf-8"}
    response = client.post(SAMPLES, content=b'{"count": 3}', headers=headers)

    assert response.status_code == 200
    assert response.json()["row_count"] == 3


@pytest.mark.parametrize("path", ["/v1/training-jobs", "/v1/models/taobao-buy/audits"])
def test_job_routes_non_json_content_type_return_415(empty_client, path):
    response = empty_client.post(path, content=b"{}", headers={**auth(), "Content-Type": "text/plain"})

    assert response.status_code == 415
    assert error_of(response)["message"] == (
        "unsupported Content-Type 'text/plain': send the body as application/json or multipart/form-data"
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"count": "\xff"}', "the body is not valid UTF-8 (invalid start byte at byte 11)"),
        (b"[" * 5000, "the body nests arrays or objects too deeply to parse"),
    ],
)
def test_unparsable_json_returns_422(client, empty_client, body, reason):
    headers = {**auth(), "Content-Type": "application/json"}
    samples = client.post(SAMPLES, content=body, headers=headers)
    training = empty_client.post("/v1/training-jobs", content=body, headers=headers)
    audit = empty_client.post("/v1/models/taobao-buy/audits", content=body, headers=headers)

    assert samples.status_code == 422
    assert error_of(samples)["message"] == f"invalid request: malformed JSON body: {reason}"
    assert training.status_code == 422
    assert error_of(training)["message"] == f"malformed JSON body: {reason}"
    assert audit.status_code == 422
    assert error_of(audit)["message"] == f"malformed JSON body: {reason}"


def test_not_found_message_hides_registry_path(client, trained_registry):
    response = client.get("/v1/models/no-such-model", headers=auth(READ_KEY))
    message = error_of(response)["message"]

    assert response.status_code == 404
    assert str(trained_registry) not in message
    assert str(trained_registry.resolve()) not in message
    assert "'no-such-model' not found" in message


def test_error_handler_replaces_server_paths(make_settings, tmp_path):
    settings = make_settings(data_dir=tmp_path / "data")
    app = create_app(settings)
    paths = {
        "registry": settings.registry_dir / "taobao-buy" / "1" / "manifest.json",
        "upload": settings.uploads_dir / "0123abcd" / "rows.csv",
        "data": settings.data_dir / "taobao" / "rows.csv",
    }

    def fail(kind: str):
        raise InvalidDataError(f"cannot read {paths[kind]}: truncated file")

    app.add_api_route("/v1/failure/{kind}", fail)
    with TestClient(app) as client:
        messages = {kind: error_of(client.get(f"/v1/failure/{kind}"))["message"] for kind in paths}

    assert messages == {
        "registry": "cannot read <registry>/taobao-buy/1/manifest.json: truncated file",
        "upload": "cannot read <uploads>/0123abcd/rows.csv: truncated file",
        "data": "cannot read <data>/taobao/rows.csv: truncated file",
    }


def test_job_error_hides_upload_path(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.create("training", {}, max_active=1)
    upload_dir = tmp_path / "uploads" / "0123abcd"
    spec = {"registry_dir": str(tmp_path / "models"), "data_dir": str(tmp_path / "data"), "upload_dir": str(upload_dir)}
    error = InvalidDataError(f"cannot parse {upload_dir / 'rows.csv'}: no header; and /srv/other/place/file.csv")

    worker._finish_failed(store, job["id"], "training", error, spec)

    recorded = store.get(job["id"])
    assert recorded["status"] == FAILED
    assert recorded["error_message"] == "cannot parse <uploads>/rows.csv: no header; and <path>/file.csv"


def test_model_cache_reloads_retrained_version(trained_registry, tmp_path):
    from generator.loading import load_table
    from generator.model import TrainingSettings, train
    from generator.registry import Registry
    from generator.schema import Schema
    from tests.api.conftest import TAOBAO, TAOBAO_SCHEMA

    registry_dir = tmp_path / "registry"
    shutil.copytree(trained_registry, registry_dir)
    service = ModelService(registry_dir)
    first, version, _ = service.load("taobao-buy", None)
    cached, _, _ = service.load("taobao-buy", 1)

    schema = Schema.from_file(TAOBAO_SCHEMA)
    frame = load_table(TAOBAO, schema.source).head(3000)
    retrained = train(frame, schema, TrainingSettings(epochs=1, seed=11, minority_values=["buy"]))
    Registry(tmp_path / "retrained").register(retrained, model_id="taobao-buy")
    shutil.rmtree(registry_dir / "taobao-buy" / "1")
    shutil.copytree(tmp_path / "retrained" / "taobao-buy" / "1", registry_dir / "taobao-buy" / "1")
    second, second_version, _ = service.load("taobao-buy", None)

    assert version == 1
    assert cached is first
    assert second_version == 1
    assert second is not first
    assert second.settings.epochs == 1
    assert first.settings.epochs == 2
    assert len(service._models) == 1


def batch_schema(body: bytes, media_type: str) -> pa.Schema:
    if media_type == formats.PARQUET:
        return pq.read_schema(io.BytesIO(body))
    return pa.ipc.open_stream(body).schema


@pytest.mark.parametrize("media_type", [formats.PARQUET, formats.ARROW])
def test_empty_batch_has_full_batch_types(client, media_type):
    headers = {**auth(READ_KEY), "Accept": media_type}
    full = client.post(AUGMENTATIONS, json={"sampling_strategy": 0.5, "class_counts": {"pv": 40, "buy": 10}},
                       headers=headers)
    empty = client.post(AUGMENTATIONS, json={"sampling_strategy": 1.0, "class_counts": {"pv": 20, "buy": 20}},
                        headers=headers)

    full_schema = batch_schema(full.content, media_type)
    empty_schema = batch_schema(empty.content, media_type)
    assert full.headers["x-longtail-row-count"] == "10"
    assert empty.headers["x-longtail-row-count"] == "0"
    assert empty_schema.names == full_schema.names
    assert [str(field.type) for field in empty_schema] == [str(field.type) for field in full_schema]
    assert {str(field.type) for field in empty_schema} <= {"string", "int64", "double"}
