"""The app in process: keys, limits, error mapping, formats and OpenAPI, on a registry with a trained model."""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient

from api import formats
from api.main import create_app, settings_with_dev_key
from api.settings import Settings
from tests.api.conftest import READ_KEY, TAOBAO_RELATIVE, auth, taobao_schema_dict

TAOBAO_COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]


@pytest.fixture
def client(make_settings, trained_registry, tmp_path):
    app = create_app(make_settings(registry_dir=trained_registry, database_path=tmp_path / "jobs.sqlite3"))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def empty_client(make_settings):
    with TestClient(create_app(make_settings(max_upload_bytes=2048, max_epochs=50))) as test_client:
        yield test_client


def error_of(response) -> dict:
    return response.json()["error"]


def test_healthz_needs_no_key(empty_client):
    response = empty_client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/models"), ("GET", "/metrics"), ("GET", "/v1/jobs/x"), ("POST", "/v1/training-jobs"),
     ("POST", "/v1/models/taobao-buy/samples")],
)
def test_route_without_key_returns_401(empty_client, method, path):
    response = empty_client.request(method, path)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert error_of(response)["message"] == "missing API key: send the header 'Authorization: Bearer <key>'"


def test_route_with_unknown_key_returns_401(empty_client):
    response = empty_client.get("/v1/models", headers=auth("not-a-configured-key"))

    assert response.status_code == 401
    assert error_of(response)["message"] == "invalid API key: no configured key matches"


def test_route_with_basic_auth_returns_401(empty_client):
    response = empty_client.get("/v1/models", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 401
    assert "expected 'Bearer <key>'" in error_of(response)["message"]


def test_training_with_read_key_returns_403(empty_client):
    response = empty_client.post("/v1/training-jobs", json={"dataset": {"path": TAOBAO_RELATIVE}}, headers=auth(READ_KEY))

    assert response.status_code == 403
    assert error_of(response)["message"] == (
        "API key 'test-read' has scope 'read'; training and cancelling jobs need a 'write' key"
    )


def test_cancel_with_read_key_returns_403(empty_client):
    assert empty_client.delete("/v1/jobs/abc", headers=auth(READ_KEY)).status_code == 403


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../data/taobao/user_behavior_814_users.csv", "'..' is not allowed"),
        ("taobao/../../../etc/passwd", "'..' is not allowed"),
        ("/etc/passwd", "resolves outside the data directory"),
        ("taobao/missing.csv", "not found under the data directory"),
        ("", "invalid dataset path"),
    ],
)
def test_training_rejects_dataset_path(empty_client, path, message):
    response = empty_client.post("/v1/training-jobs", json={"dataset": {"path": path}}, headers=auth())

    assert response.status_code == 422
    assert error_of(response)["type"] == "InvalidDataError"
    assert message in error_of(response)["message"]


def test_training_rejects_symlink_out_of_data_dir(make_settings, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (tmp_path / "secret.csv").write_text("a,b\n1,2\n")
    (data_dir / "link.csv").symlink_to(tmp_path / "secret.csv")

    with TestClient(create_app(make_settings(data_dir=data_dir))) as client:
        response = client.post("/v1/training-jobs", json={"dataset": {"path": "link.csv"}}, headers=auth())

    assert response.status_code == 422
    assert "resolves outside the data directory" in error_of(response)["message"]


def test_training_malformed_json_returns_422(empty_client):
    response = empty_client.post(
        "/v1/training-jobs", content=b'{"dataset": ', headers={**auth(), "Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert error_of(response)["message"].startswith("malformed JSON body:")


def test_training_unknown_field_returns_422(empty_client):
    response = empty_client.post(
        "/v1/training-jobs", json={"dataset": {"path": TAOBAO_RELATIVE}, "epoch": 3}, headers=auth()
    )

    assert response.status_code == 422
    assert error_of(response)["message"] == "invalid training request: epoch: Extra inputs are not permitted"


def test_training_invalid_schema_returns_422(empty_client):
    schema = taobao_schema_dict()
    schema["columns"]["behavior_type"]["role"] = "categorical"

    response = empty_client.post(
        "/v1/training-jobs", json={"dataset": {"path": TAOBAO_RELATIVE}, "schema": schema}, headers=auth()
    )

    assert response.status_code == 422
    assert error_of(response)["type"] == "SchemaError"
    assert "one column needs role 'label'" in error_of(response)["message"]


def test_training_over_max_epochs_returns_413(empty_client):
    response = empty_client.post(
        "/v1/training-jobs", json={"dataset": {"path": TAOBAO_RELATIVE}, "epochs": 51}, headers=auth()
    )

    assert response.status_code == 413
    assert error_of(response)["limit"] == {"name": "max_epochs", "limit": 50, "requested": 51}
    assert "max_epochs=50" in error_of(response)["message"]


def test_training_over_concurrent_jobs_returns_429(empty_client):
    empty_client.app.state.jobs.create("training", {}, max_active=1)

    response = empty_client.post("/v1/training-jobs", json={"dataset": {"path": TAOBAO_RELATIVE}}, headers=auth())

    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert error_of(response)["limit"] == {"name": "max_concurrent_jobs", "limit": 1, "requested": 2}
    assert "max_concurrent_jobs=1" in error_of(response)["message"]


def test_upload_over_limit_returns_413(empty_client):
    body = b"user_id,item_id\n" + b"1,2\n" * 1000

    response = empty_client.post(
        "/v1/training-jobs", files={"file": ("log.csv", body, "text/csv")}, headers=auth()
    )

    assert response.status_code == 413
    assert error_of(response)["limit"]["name"] == "max_upload_bytes"
    assert "exceeds the limit max_upload_bytes=2048" in error_of(response)["message"]


def test_upload_with_unsupported_suffix_returns_422(empty_client, make_settings):
    response = empty_client.post(
        "/v1/training-jobs", files={"file": ("log.xlsx", b"a,b\n1,2\n", "text/csv")}, headers=auth()
    )

    assert response.status_code == 422
    assert "unsupported suffix" in error_of(response)["message"]
    assert not any(empty_client.app.state.settings.uploads_dir.glob("*/*"))


def test_upload_without_file_returns_422(empty_client):
    response = empty_client.post("/v1/training-jobs", data={"request": "{}"}, files={"other": ("x.csv", b"a")},
                                 headers=auth())

    assert response.status_code == 422
    assert "needs a file field named 'file'" in error_of(response)["message"]


def test_unknown_model_returns_404(client):
    for response in (
        client.get("/v1/models/no-such-model", headers=auth(READ_KEY)),
        client.post("/v1/models/no-such-model/samples", json={"count": 5}, headers=auth(READ_KEY)),
        client.post("/v1/models/no-such-model/augmentations", json={"sampling_strategy": 0.5}, headers=auth(READ_KEY)),
    ):
        assert response.status_code == 404
        assert error_of(response)["type"] == "ModelNotFoundError"
        assert "'no-such-model' not found" in error_of(response)["message"]


def test_unknown_job_returns_404(empty_client):
    response = empty_client.get("/v1/jobs/0123", headers=auth())

    assert response.status_code == 404
    assert error_of(response)["message"] == "job '0123' not found; list jobs with GET /v1/jobs"


def test_cancel_finished_job_returns_409(empty_client):
    store = empty_client.app.state.jobs
    job = store.create("training", {"epochs": 1}, max_active=1)
    store.request_cancel(job["id"])

    response = empty_client.delete(f"/v1/jobs/{job['id']}", headers=auth())

    assert response.status_code == 409
    assert error_of(response)["message"].startswith(f"job {job['id']} is already cancelled")


def test_list_models_shows_trained_model(client):
    response = client.get("/v1/models", headers=auth(READ_KEY))

    models = response.json()["models"]
    assert response.status_code == 200
    assert [model["model_id"] for model in models] == ["taobao-buy"]
    assert models[0]["versions"] == [1]
    assert models[0]["summary"]["minority"] == ["buy"]
    assert models[0]["manifest"] is None


def test_get_model_returns_manifest(client):
    response = client.get("/v1/models/taobao-buy", headers=auth(READ_KEY))

    body = response.json()
    assert response.status_code == 200
    assert body["latest_version"] == 1
    assert body["manifest"]["version"] == 1
    assert body["manifest"]["settings"]["epochs"] == 2


def test_get_model_unknown_version_returns_404(client):
    response = client.get("/v1/models/taobao-buy", params={"version": 9}, headers=auth(READ_KEY))

    assert response.status_code == 404
    assert "has no version 9" in error_of(response)["message"]


def test_samples_json_returns_rows_and_fidelity(client):
    response = client.post(
        "/v1/models/taobao-buy/samples", json={"count": 40, "conditions": {"behavior_type": "buy"}, "seed": 3},
        headers=auth(READ_KEY),
    )

    body = response.json()
    assert response.status_code == 200
    assert body["row_count"] == 40
    assert len(body["rows"]) == 40
    assert list(body["rows"][0]) == TAOBAO_COLUMNS
    assert {row["behavior_type"] for row in body["rows"]} == {"buy"}
    assert 0 <= body["fidelity"]["scores"]["overall"] <= 1
    assert body["batch_id"] == response.headers["x-longtail-batch-id"]


@pytest.mark.parametrize("media_type", [formats.CSV, formats.PARQUET, formats.ARROW])
def test_samples_binary_formats_carry_fidelity(client, media_type):
    response = client.post(
        "/v1/models/taobao-buy/samples", json={"count": 30, "seed": 3}, headers={**auth(READ_KEY), "Accept": media_type}
    )

    rows, embedded = formats.decode(response.content, media_type)
    header = json.loads(response.headers["x-longtail-fidelity"])
    companion = client.get(f"/v1/batches/{response.headers['x-longtail-batch-id']}", headers=auth(READ_KEY)).json()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert list(rows.columns) == TAOBAO_COLUMNS
    assert len(rows) == 30
    assert header == companion["fidelity"]
    assert companion["row_count"] == 30
    assert float(response.headers["x-longtail-fidelity-score"]) == pytest.approx(header["scores"]["overall"], abs=1e-6)
    if media_type != formats.CSV:
        assert embedded["fidelity"] == header


def test_samples_same_seed_returns_same_rows(client):
    request = {"count": 25, "seed": 11}

    first = client.post("/v1/models/taobao-buy/samples", json=request, headers=auth(READ_KEY)).json()
    second = client.post("/v1/models/taobao-buy/samples", json=request, headers=auth(READ_KEY)).json()

    assert first["rows"] == second["rows"]
    assert first["batch_id"] != second["batch_id"]


def test_samples_over_row_limit_returns_413(make_settings, trained_registry, tmp_path):
    settings = make_settings(registry_dir=trained_registry, database_path=tmp_path / "jobs.sqlite3", max_rows_per_request=100)
    with TestClient(create_app(settings)) as client:
        samples = client.post("/v1/models/taobao-buy/samples", json={"count": 101}, headers=auth(READ_KEY))
        augmentation = client.post(
            "/v1/models/taobao-buy/augmentations", json={"sampling_strategy": 0.25}, headers=auth(READ_KEY)
        )

    assert samples.status_code == 413
    assert error_of(samples)["limit"] == {"name": "max_rows_per_request", "limit": 100, "requested": 101}
    assert "101 rows exceed the limit max_rows_per_request=100" in error_of(samples)["message"]
    assert augmentation.status_code == 413
    assert error_of(augmentation)["limit"]["name"] == "max_rows_per_request"
    assert error_of(augmentation)["limit"]["requested"] > 100


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"count": 5, "conditions": {"no_such_column": "x"}}, "no_such_column"),
        ({"count": 5, "conditions": {"behavior_type": "refund"}}, "refund"),
    ],
)
def test_samples_unknown_condition_returns_422(client, body, message):
    response = client.post("/v1/models/taobao-buy/samples", json=body, headers=auth(READ_KEY))

    assert response.status_code == 422
    assert error_of(response)["type"] == "ConditionError"
    assert message in error_of(response)["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"count": 0}, "count: Input should be greater than 0"),
        ({"count": "many"}, "count: Input should be a valid integer"),
        ({"count": 5, "user_ids": "old"}, "user_ids: Input should be 'new' or 'real'"),
        ({}, "count: Field required"),
    ],
)
def test_samples_invalid_body_returns_422(client, body, message):
    response = client.post("/v1/models/taobao-buy/samples", json=body, headers=auth(READ_KEY))

    assert response.status_code == 422
    assert message in error_of(response)["message"]


def test_samples_malformed_json_returns_422(client):
    response = client.post(
        "/v1/models/taobao-buy/samples", content=b"{count: 5", headers={**auth(READ_KEY), "Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert error_of(response)["message"].startswith("invalid request: malformed JSON body")


def test_samples_unsupported_accept_returns_406(client):
    response = client.post(
        "/v1/models/taobao-buy/samples", json={"count": 5}, headers={**auth(READ_KEY), "Accept": "text/html"}
    )

    assert response.status_code == 406
    assert error_of(response)["message"].startswith("unsupported Accept header 'text/html'")


def test_augmentation_invalid_strategy_returns_422(client):
    response = client.post(
        "/v1/models/taobao-buy/augmentations", json={"sampling_strategy": -1.0}, headers=auth(READ_KEY)
    )

    assert response.status_code == 422
    assert error_of(response)["type"] == "PlanError"


def test_augmentation_with_class_counts_follows_plan(client):
    response = client.post(
        "/v1/models/taobao-buy/augmentations",
        json={"sampling_strategy": 0.5, "class_counts": {"pv": 400, "buy": 20}, "seed": 5},
        headers=auth(READ_KEY),
    )

    body = response.json()
    assert response.status_code == 200
    assert body["plan"]["n_samples"] == {"buy": 180}
    assert body["row_count"] == 180
    assert {row["behavior_type"] for row in body["rows"]} == {"buy"}


def test_metrics_count_requests_and_rows(client):
    client.post("/v1/models/taobao-buy/samples", json={"count": 12}, headers=auth(READ_KEY))

    text = client.get("/metrics", headers=auth(READ_KEY)).text

    assert 'longtail_rows_generated_total{kind="samples",model_id="taobao-buy"} 12.0' in text
    assert 'longtail_http_requests_total{method="POST",route="/v1/models/{model_id}/samples",status="200"} 1.0' in text
    assert 'longtail_http_request_duration_seconds_count{method="POST",route="/v1/models/{model_id}/samples"} 1.0' in text
    assert 'longtail_jobs{status="running"} 0.0' in text


def test_openapi_documents_routes_with_examples(empty_client):
    document = empty_client.get("/openapi.json", headers=auth(READ_KEY)).json()
    paths = document["paths"]

    assert set(paths) >= {
        "/healthz", "/metrics", "/v1/training-jobs", "/v1/jobs/{job_id}", "/v1/models", "/v1/models/{model_id}",
        "/v1/models/{model_id}/samples", "/v1/models/{model_id}/augmentations", "/v1/batches/{batch_id}",
    }
    training_body = paths["/v1/training-jobs"]["post"]["requestBody"]["content"]
    assert set(training_body) == {"application/json", "multipart/form-data"}
    assert training_body["application/json"]["example"]["dataset"]["path"] == TAOBAO_RELATIVE
    assert document["components"]["schemas"]["SampleRequest"]["examples"][0]["count"] == 1000
    assert "examples" in document["components"]["schemas"]["AugmentationRequest"]
    samples_content = paths["/v1/models/{model_id}/samples"]["post"]["responses"]["200"]["content"]
    assert set(samples_content) >= {"application/json", formats.CSV, formats.PARQUET, formats.ARROW}
    schemas = document["components"]["schemas"]
    for route, path in paths.items():
        for method, operation in path.items():
            assert operation.get("description"), f"{method} {route} has no description"
            success = next(response for status, response in operation["responses"].items() if status.startswith("2"))
            body = success.get("content", {}).get("application/json", {}).get("schema", {})
            reference = body.get("$ref") or body.get("items", {}).get("$ref")
            has_example = (
                "example" in success.get("content", {}).get("text/plain", {})
                or (reference is not None and "examples" in schemas[reference.rsplit("/", 1)[-1]])
            )
            assert has_example, f"{method} {route} has no response example"


def test_settings_with_dev_key_prints_key_once(tmp_path):
    stream = io.StringIO()

    settings, key = settings_with_dev_key(Settings(registry_dir=tmp_path), stream=stream)
    unchanged, none = settings_with_dev_key(settings, stream=stream)

    assert key is not None and key in stream.getvalue()
    assert stream.getvalue().count(key) == 1
    assert settings.api_keys[0].scope == "write"
    assert unchanged is settings
    assert none is None
