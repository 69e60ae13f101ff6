"""The pages' JSON API over a real server: form, explain, uploads, labelling, cards, roles."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from lanza.security.keys import KeyStore
from lanza.settings import ServerSettings, Settings
from lanza.workspace import Workspace
from tests.integration.pages.conftest import Serve, record
from tests.servers import wait_for

REASON = "must be a number (leave the cell empty when it is unknown)"


def test_form_is_built_from_the_signature_and_reference(serve: Serve) -> None:
    with serve() as http:
        form = http.get("/api/v1/deployments/c/form").json()
    fields = {f["name"]: f for f in form["fields"]}
    assert list(fields) == ["mean_radius", "mean_texture", "worst_area", "clinic"]
    assert fields["mean_radius"]["kind"] == "number"
    assert fields["mean_radius"]["minimum"] < fields["mean_radius"]["example"]
    assert fields["clinic"]["kind"] == "category"
    assert sorted(fields["clinic"]["values"]) == ["east", "north", "south"]
    assert form["model"] == "cancer/1"
    assert form["task"] == "classification"
    assert form["classes"] == ["0", "1"]


def test_explain_predicts_like_the_api_and_is_logged(
    serve: Serve, clinic_frame: pd.DataFrame
) -> None:
    row = record(clinic_frame.iloc[7])
    with serve() as http:
        answer = http.post("/api/v1/deployments/c/explain", json={"record": row}).json()
        api = http.post(
            "/api/v1/deployments/c/predict", json={"instances": [row], "probabilities": True}
        ).json()
        assert answer["prediction"] == api["predictions"][0]
        assert answer["probabilities"] == pytest.approx(api["probabilities"][0])
        explanation = answer["explanation"]
        assert explanation["method"] == "occlusion"  # a classifier: points of probability
        assert explanation["unit"].startswith("points of probability of")
        assert {c["feature"] for c in explanation["contributions"]} == set(row)
        assert "probability" in answer["plain"]
        # Logged like any other prediction: feedback on its request id is accepted.
        posted = http.post(
            "/api/v1/deployments/c/feedback",
            json={"request_id": answer["request_id"], "value": answer["prediction"]},
        )
        assert posted.status_code == 200, posted.text


def test_upload_reports_bad_rows_and_predicts_the_rest_as_excel(
    serve: Serve, clinic_frame: pd.DataFrame
) -> None:
    rows = pd.DataFrame([record(clinic_frame.iloc[i]) for i in range(5)])
    rows = rows.astype(object)
    rows.loc[2, "mean_texture"] = "n/a"
    rows["patient"] = [f"p{i}" for i in range(5)]
    buffer = io.BytesIO()
    rows.to_excel(buffer, index=False, engine="openpyxl")
    with serve() as http:
        made = http.post(
            "/api/v1/deployments/c/uploads",
            params={"filename": "patients.xlsx"},
            content=buffer.getvalue(),
        )
        assert made.status_code == 201, made.text
        body = made.json()
        report, upload = body["validation"], body["upload"]
        assert (report["good"], report["bad"]) == (4, 1)
        assert report["row_problems"] == [
            {"reason": REASON, "column": "mean_texture", "row": 4, "value": "n/a"}
        ]
        assert [p["column"] for p in report["column_problems"]] == ["patient"]
        assert upload["state"] == "succeeded"
        got = http.get(f"/api/v1/deployments/c/uploads/{upload['id']}/file?format=xlsx")
        assert got.status_code == 200
        assert 'filename="patients-predictions.xlsx"' in got.headers["content-disposition"]
        elsewhere = http.get(f"/api/v1/deployments/other/uploads/{upload['id']}")
        assert elsewhere.status_code == 404
        result = pd.read_excel(io.BytesIO(got.content), engine="openpyxl", dtype=str)
        good = [record(clinic_frame.iloc[i]) for i in (0, 1, 3, 4)]
        api = http.post("/api/v1/deployments/c/predict", json={"instances": good}).json()
    assert list(result["patient"]) == [f"p{i}" for i in range(5)]
    predicted = result["prediction"].tolist()
    assert [predicted[i] for i in (0, 1, 3, 4)] == [str(p) for p in api["predictions"]]
    assert pd.isna(predicted[2])
    assert "mean_texture" in result["error"][2]


def test_missing_column_and_unknown_format_are_refused(serve: Serve) -> None:
    with serve() as http:
        missing = http.post(
            "/api/v1/deployments/c/uploads",
            params={"filename": "a.csv"},
            content=b"mean_radius,mean_texture,clinic\n1,2,north\n",
        )
        assert missing.status_code == 422
        assert "worst_area" in missing.json()["error"]["message"]
        odd = http.post(
            "/api/v1/deployments/c/uploads/validate", params={"filename": "a.pdf"}, content=b"x"
        )
        assert odd.status_code == 415


def test_large_upload_runs_as_a_batch_job(
    pages_settings: Settings, serve: Serve, clinic_frame: pd.DataFrame
) -> None:
    settings = pages_settings.model_copy(
        update={"server": ServerSettings(poll_interval_s=0.3, max_rows_per_request=20)}
    )
    frame = pd.DataFrame([record(clinic_frame.iloc[i]) for i in range(60)]).astype(object)
    frame.loc[10, "worst_area"] = "big"
    with serve(settings) as http:
        made = http.post(
            "/api/v1/deployments/c/uploads",
            params={"filename": "many.csv"},
            content=frame.to_csv(index=False).encode(),
        ).json()
        upload = made["upload"]
        assert upload["job_id"] is not None
        state: dict[str, object] = {}

        def finished() -> bool:
            state.update(http.get(f"/api/v1/deployments/c/uploads/{upload['id']}").json())
            return state["state"] != "running"

        wait_for(finished, timeout=60, interval=0.3)
        assert state["state"] == "succeeded", state
        got = http.get(f"/api/v1/deployments/c/uploads/{upload['id']}/file")
        good = [record(clinic_frame.iloc[i]) for i in range(60) if i != 10]
        predictions = []
        for start in range(0, len(good), 20):
            chunk = {"instances": good[start : start + 20]}
            answer = http.post("/api/v1/deployments/c/predict", json=chunk).json()
            predictions += answer["predictions"]
    result = pd.read_csv(io.BytesIO(got.content))
    assert len(result) == 60
    assert result["prediction"].drop(index=10).astype(int).tolist() == predictions
    assert "worst_area" in result["error"][10]


def test_labelling_queue_puts_the_least_sure_first_and_answers_become_feedback(
    serve: Serve, clinic_frame: pd.DataFrame
) -> None:
    with serve() as http:
        for i in range(30):
            sent = http.post(
                "/api/v1/deployments/c/predict",
                json={"instances": [record(clinic_frame.iloc[i])], "probabilities": True},
            )
            assert sent.status_code == 200
        wait_for(
            lambda: http.get("/api/v1/deployments/c/labelling/progress").json()["waiting"] == 30
        )
        queue = http.get("/api/v1/deployments/c/labelling/queue?size=10").json()
        items = queue["items"]
        assert len(items) == 10
        assert sum(i["sample"] == "random" for i in items) == 2
        unsure = [i["confidence"] for i in items if i["sample"] == "uncertain"]
        assert unsure == sorted(unsure)
        assert (
            max(unsure) <= min(i["confidence"] for i in items if i["sample"] == "random")
            or len(unsure) == 8
        )
        first = items[0]
        answered = http.post(
            "/api/v1/deployments/c/labelling/answers",
            json={"request_id": first["request_id"], "value": "1", "sample": first["sample"]},
        ).json()
        assert answered["labelled"] == 1
        assert answered["waiting"] == 29
        bad = http.post(
            "/api/v1/deployments/c/labelling/answers",
            json={"request_id": first["request_id"], "value": "7"},
        )
        assert bad.status_code == 422


def test_card_edits_need_admin_and_roles_apply(pages_settings: Settings, serve: Serve) -> None:
    with serve() as http:
        keys = KeyStore(Workspace(pages_settings).database)
        _, read = keys.create("viewer", "read")
        _, predict = keys.create("sales", "predict")
        _, admin = keys.create("owner", "admin")

        def as_(secret: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {secret}"}

        wait_for(lambda: http.get("/api/v1/deployments/c/form").status_code == 401)
        assert http.get("/api/v1/deployments/c/form", headers=as_(read)).status_code == 200
        row = {"mean_radius": 12.0, "mean_texture": 20.0, "worst_area": 600.0, "clinic": "north"}
        explain = "/api/v1/deployments/c/explain"
        assert http.post(explain, json={"record": row}, headers=as_(read)).status_code == 403
        assert http.post(explain, json={"record": row}, headers=as_(predict)).status_code == 200
        card = "/api/v1/models/cancer/versions/1/card"
        edit = {"owners": ["ana@example.com"], "intended_use": "triage", "limitations": "adults"}
        assert http.put(card, json=edit, headers=as_(predict)).status_code == 403
        saved = http.put(card, json=edit, headers=as_(admin))
        assert saved.status_code == 200, saved.text
        assert saved.json()["owner"]["owners"] == ["ana@example.com"]
        assert saved.json()["owner"]["updated_by"] == "owner"
        markdown = http.get("/models/cancer/versions/1/card.md", headers=as_(read))
        assert markdown.status_code == 200
        assert "Intended use: triage" in markdown.text
        assert http.get("/models/cancer/versions/1/card.md").status_code == 401


def test_card_knows_training_and_serving(serve: Serve) -> None:
    with serve() as http:
        card = http.get("/api/v1/models/cancer/versions/1/card").json()
        page = http.get("/models/cancer/versions/1/card.html")
        missing = http.get("/api/v1/models/cancer/versions/9/card")
    assert card["training"]["metric"]
    assert card["training"]["cv_mean"] > 0.8
    assert card["training"]["leaderboard"][0]["candidate"] == "logistic_regression"
    assert "within one standard error" in card["training"]["selection"]["rule"]
    assert [s["deployment"] for s in card["serving"]] == ["c"]
    cost = card["training"]["cost"]
    assert cost["batch_per_million"] > 0
    assert cost["realtime_per_million"] > cost["batch_per_million"]
    assert card["aliases"] == ["champion"]
    assert {f["name"] for f in card["data"]["features"]} == {
        "mean_radius",
        "mean_texture",
        "worst_area",
        "clinic",
    }
    assert page.headers["content-type"].startswith("text/html")
    assert "cancer/1" in page.text
    assert "<script" not in page.text
    assert missing.status_code == 404


HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "=cmd|' /C calc'!A0", "+SUM(1,2)", "@SUM(1+1)",
           "-2+3", "\tx", "fine", "-1.5"]  # fmt: skip


def test_upload_results_neutralise_formula_cells_in_csv_and_excel(
    serve: Serve, clinic_frame: pd.DataFrame
) -> None:
    rows = pd.DataFrame([record(clinic_frame.iloc[i % 5]) for i in range(len(HOSTILE))])
    rows["=note"] = HOSTILE
    with serve() as http:
        made = http.post(
            "/api/v1/deployments/c/uploads",
            params={"filename": "a.csv"},
            content=rows.to_csv(index=False).encode(),
        )
        assert made.status_code == 201, made.text
        upload = made.json()["upload"]
        csv = http.get(f"/api/v1/deployments/c/uploads/{upload['id']}/file?format=csv")
        xlsx = http.get(f"/api/v1/deployments/c/uploads/{upload['id']}/file?format=xlsx")
    expected = [f"'{v}" for v in HOSTILE[:6]] + ["fine", "-1.5"]
    from_csv = pd.read_csv(io.StringIO(csv.text), dtype=str, keep_default_na=False)
    assert "'=note" in from_csv.columns
    assert from_csv["'=note"].tolist() == expected
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.value for c in cells if c.data_type == "f"], "no formula cell"
    header = [c.value for c in next(sheet.iter_rows())]
    column = header.index("'=note")
    assert [r[column].value for r in sheet.iter_rows(min_row=2)] == expected
