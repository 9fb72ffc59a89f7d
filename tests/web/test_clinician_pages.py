"""The shell every user shares (password change, error page) and the clinician's pages:
patient form, chart, record forms with the API's messages beside the fields, corrections."""

from __future__ import annotations

import datetime as dt
import html
import re

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.registry import models as m
from prolo.registry.models import AuditEntry
from prolo.security import service as security
from prolo.security.principal import system
from tests import factories as f
from tests.conftest import Identities
from tests.web.test_pages import csrf_of, log_in, sign_in


def error_beside(page: str, field: str) -> str:
    match = re.search(rf'id="{re.escape(field)}-error">([^<]*)<', page)
    assert match, f"no error beside {field}"
    return html.unescape(match.group(1))


def test_one_time_password_must_be_changed_first(anonymous: TestClient, db: Session) -> None:
    security.add_user(
        db,
        username="newcomer",
        password="one time only 123",
        role="clinician",
        site_codes=["HOME"],
        actor=system(),
        must_change_password=True,
    )
    response = log_in(anonymous, "newcomer", "one time only 123")
    assert response.headers["location"] == "/app/password"
    forced = anonymous.get("/app/patients", follow_redirects=False)
    assert forced.status_code == 303 and forced.headers["location"] == "/app/password"
    form = anonymous.get("/app/password")
    assert "one-time password" in form.text
    token = csrf_of(form.text)
    weak = anonymous.post(
        "/app/password",
        data={
            "csrf_token": token,
            "old_password": "one time only 123",
            "new_password": "short",
            "confirm_password": "short",
        },
    )
    assert weak.status_code == 422
    assert error_beside(weak.text, "new_password") == "must be at least 12 characters"
    done = anonymous.post(
        "/app/password",
        data={
            "csrf_token": token,
            "old_password": "one time only 123",
            "new_password": "a much better passphrase",
            "confirm_password": "a much better passphrase",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert anonymous.get("/app/patients", follow_redirects=False).status_code == 200
    assert db.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "password_change", AuditEntry.actor == "newcomer"
        )
    ).first()


def test_error_page_names_what_went_wrong(anonymous: TestClient, identities: Identities) -> None:
    sign_in(anonymous, identities, "researcher")
    forbidden = anonymous.get("/app/patients")
    assert forbidden.status_code == 403 and "researcher role cannot use this page" in forbidden.text
    sign_in(anonymous, identities, "clinician")
    missing = anonymous.get("/app/no-such-page")
    assert missing.status_code == 404 and "Page not found" in missing.text
    bad = anonymous.get("/app/patients/not-a-number")
    assert bad.status_code == 422 and "patient_id" in bad.text


def patient_form(identities: Identities, token: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "site_id": str(identities.home_site_id),
        "external_id": "WEB-0001",
        "given_name": "Robin",
        "family_name": "Formfield",
        "birth_date": "1971-02-03",
        "sex": "female",
        "email": "robin@example.org",
        "phone": "",
        "consent_status": "given",
        "consent_date": "2026-01-05",
        **overrides,
    }


def test_patient_form_creates_the_patient_and_shows_the_chart(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    token = sign_in(anonymous, identities)
    form = anonymous.get("/app/patients/new")
    assert form.status_code == 200
    for name in ("site_id", "external_id", "birth_date", "sex", "consent_status"):
        assert f'name="{name}"' in form.text
    created = anonymous.post(
        "/app/patients", data=patient_form(identities, token), follow_redirects=False
    )
    assert created.status_code == 303
    location = created.headers["location"]
    assert re.fullmatch(r"/app/patients/\d+", location)
    chart = anonymous.get(location)
    assert chart.status_code == 200 and "WEB-0001" in chart.text
    patient = db.scalars(select(m.Patient).where(m.Patient.external_id == "WEB-0001")).one()
    assert db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "patient", AuditEntry.entity_id == patient.id)
    ).first()


def test_patient_form_shows_the_api_messages_beside_the_fields(
    anonymous: TestClient, identities: Identities, client: TestClient, db: Session
) -> None:
    token = sign_in(anonymous, identities)
    bad = patient_form(
        identities, token, email="not an address", birth_date="2999-01-01", sex="dragon"
    )
    page = anonymous.post("/app/patients", data=bad)
    assert page.status_code == 422
    api = client.post(
        "/patients", json={k: v for k, v in bad.items() if v and k != "csrf_token"}
    ).json()
    api_reasons = {e["field"]: e["reason"] for e in api["errors"]}
    assert error_beside(page.text, "email") == api_reasons["email"]
    assert 'value="Formfield"' in page.text  # what was typed is kept
    # the schema accepts the shape; the service's rules then name the vocabulary and date
    shaped = patient_form(identities, token, birth_date="2999-01-01", sex="dragon")
    page = anonymous.post("/app/patients", data=shaped)
    api = client.post(
        "/patients", json={k: v for k, v in shaped.items() if v and k != "csrf_token"}
    ).json()
    api_reasons = {e["field"]: e["reason"] for e in api["errors"]}
    assert error_beside(page.text, "sex") == api_reasons["sex"]
    assert error_beside(page.text, "birth_date") == api_reasons["birth_date"]
    assert db.scalars(select(m.Patient).where(m.Patient.external_id == "WEB-0001")).first() is None


def post_form(client: TestClient, path: str, token: str, **fields: str) -> Response:
    return client.post(path, data={"csrf_token": token, **fields}, follow_redirects=False)


def test_every_clinical_record_has_a_form(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    record = f.treated_patient(db, db.get(m.Site, identities.home_site_id))
    sign_in(anonymous, identities)
    pid = record["patient"].id
    for path in (
        "conditions",
        "prior-treatments",
        "courses",
        "sessions",
        "co-interventions",
        "adverse-events",
        "recurrences",
        "work-statuses",
        "objective-measures",
    ):
        page = anonymous.get(f"/app/patients/{pid}/{path}/new")
        assert page.status_code == 200, path
        assert f'action="/app/patients/{pid}/{path}"' in page.text
    session_form = anonymous.get(f"/app/patients/{pid}/sessions/new").text
    for name in ("agent", "concentration_percent", "total_volume_ml", "targets-0-levels"):
        assert f'name="{name}"' in session_form
    assert anonymous.get(f"/app/patients/{pid}/nonsense/new").status_code == 404


def test_clinic_records_a_course_session_and_questionnaire_and_sees_the_chart(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    home = db.get(m.Site, identities.home_site_id)
    record = f.treated_patient(db, home)
    pid, doctor = record["patient"].id, record["practitioner"].id
    token = sign_in(anonymous, identities)
    bad = post_form(
        anonymous,
        f"/app/patients/{pid}/conditions",
        token,
        icd10_code="banana",
        region="lumbar",
        onset_date="2024-01-01",
        diagnosis_confirmation="imaging",
    )
    assert bad.status_code == 422
    assert error_beside(bad.text, "icd10_code").startswith("Value error, not an ICD-10-CM code")
    condition = post_form(
        anonymous,
        f"/app/patients/{pid}/conditions",
        token,
        icd10_code="M54.50",
        region="lumbar",
        onset_date="2024-01-01",
        diagnosis_confirmation="imaging",
    )
    assert condition.status_code == 303
    new = db.scalars(select(m.Condition).where(m.Condition.icd10_code == "M54.50")).one()
    start = dt.date.today() - dt.timedelta(days=10)
    course = post_form(
        anonymous,
        f"/app/patients/{pid}/courses",
        token,
        condition_id=str(new.id),
        practitioner_id=str(doctor),
        start_date=start.isoformat(),
        planned_sessions="3",
        status="active",
    )
    assert course.status_code == 303
    course_id = db.scalars(
        select(m.TreatmentCourse.id).where(m.TreatmentCourse.condition_id == new.id)
    ).one()
    bad_level = post_form(
        anonymous,
        f"/app/patients/{pid}/sessions",
        token,
        course_id=str(course_id),
        practitioner_id=str(doctor),
        session_date=start.isoformat(),
        agent="dextrose",
        concentration_percent="12.5",
        anesthetic="lidocaine",
        total_volume_ml="15",
        injection_count="10",
        guidance="ultrasound",
        **{"targets-0-target": "interspinous_ligament", "targets-0-levels": "L4-L5, L9"},
    )
    assert bad_level.status_code == 422
    assert error_beside(bad_level.text, "targets").startswith("targets[0].levels[1]: String")
    session = post_form(
        anonymous,
        f"/app/patients/{pid}/sessions",
        token,
        course_id=str(course_id),
        practitioner_id=str(doctor),
        session_date=start.isoformat(),
        agent="dextrose",
        concentration_percent="12.5",
        anesthetic="lidocaine",
        total_volume_ml="15",
        injection_count="10",
        guidance="ultrasound",
        **{
            "targets-0-target": "interspinous_ligament",
            "targets-0-levels": "L4-L5, L5-S1",
            "targets-0-side": "midline",
        },
    )
    assert session.status_code == 303
    entry = anonymous.get(
        f"/app/patients/{pid}/assessments/new?instrument=NRS&course_id={course_id}"
    )
    assert entry.status_code == 200 and 'name="item__0"' in entry.text
    saved = post_form(
        anonymous,
        f"/app/patients/{pid}/assessments",
        token,
        instrument="NRS",
        course_id=str(course_id),
        assessed_on=start.isoformat(),
        item__0="7",
    )
    assert saved.status_code == 303
    shown = anonymous.get(saved.headers["location"])
    assert re.search(r'id="score">7<', shown.text) and "baseline" in shown.text
    chart = anonymous.get(f"/app/patients/{pid}").text
    assert "interspinous_ligament L4-L5, L5-S1 (midline)" in chart
    assert "dextrose 12.5%" in chart and "NRS at baseline: score 7" in chart
    assert "<svg" in chart and "important improvement: 5 or lower" in chart
    ids = re.findall(r'\bid="([^"]+)"', chart)
    assert len(ids) == len(set(ids)), "an id is used twice on the chart"
    # the new condition has no failed prior care: the warning is on the chart, not a block
    assert "Eligibility warnings" in chart and "no documented failed nonsurgical" in chart


def test_a_correction_needs_a_reason_and_shows_in_the_history(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    record = f.treated_patient(db, db.get(m.Site, identities.home_site_id))
    condition = record["condition"]
    token = sign_in(anonymous, identities)
    path = f"/app/records/conditions/{condition.id}"
    page = anonymous.get(path)
    assert page.status_code == 200 and "History" in page.text and 'name="reason"' in page.text
    values = {
        "icd10_code": condition.icd10_code,
        "region": "cervical",
        "onset_date": condition.onset_date.isoformat(),
        "diagnosis_confirmation": condition.diagnosis_confirmation,
    }
    no_reason = post_form(anonymous, path, token, reason="", **values)
    assert no_reason.status_code == 422 and error_beside(no_reason.text, "reason")
    done = post_form(anonymous, path, token, reason="region entered wrongly", **values)
    assert done.status_code == 303
    history = anonymous.get(path).text
    assert "region entered wrongly" in history and "lumbar → cervical" in history
    retire_no_reason = post_form(anonymous, f"{path}/retire", token, retire_reason="")
    assert retire_no_reason.status_code == 422
    assert error_beside(retire_no_reason.text, "retire_reason")
    retired = post_form(anonymous, f"{path}/retire", token, retire_reason="duplicate entry")
    assert retired.status_code == 303
    assert "Retired on" in anonymous.get(path).text
    actions = set(
        db.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity == "condition", AuditEntry.entity_id == condition.id
            )
        )
    )
    assert {"create", "update", "retire"} <= actions


def test_patient_search_by_id_name_and_birth_date_stays_in_the_sites(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    home = db.get(m.Site, identities.home_site_id)
    away = db.get(m.Site, identities.away_site_id)
    mine = f.patient(db, at=home, family_name="Searchable", birth_date=dt.date(1960, 1, 2))
    theirs = f.patient(db, at=away, family_name="Searchable", birth_date=dt.date(1960, 1, 2))
    sign_in(anonymous, identities)
    by_name = anonymous.get("/app/patients?name=searchABLE").text
    assert mine.external_id in by_name and theirs.external_id not in by_name
    by_birth = anonymous.get("/app/patients?birth_date=1960-01-02").text
    assert mine.external_id in by_birth and theirs.external_id not in by_birth
    by_id = anonymous.get(f"/app/patients?external_id={mine.external_id}").text
    assert "1 patient at your sites match" in by_id
    bad = anonymous.get("/app/patients?birth_date=yesterday").text
    assert "birth date: use the form YYYY-MM-DD" in bad


def test_clinician_home_lists_follow_ups_due_this_week(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    record = f.treated_patient(db, db.get(m.Site, identities.home_site_id))
    f.course(db, of=record["condition"], by=record["practitioner"], start_date=dt.date.today())
    sign_in(anonymous, identities)
    home = anonymous.get("/app")
    assert home.status_code == 200 and "Follow-ups due this week" in home.text
    assert record["patient"].external_id in home.text
    assert re.search(r"<td>baseline</td><td>" + dt.date.today().isoformat(), home.text)
    assert 'hx-get="/app/outcome-figures"' in home.text  # fetched after the page, or a link
    figures = anonymous.get("/app/outcome-figures", headers={"HX-Request": "true"})
    assert "followed courses" in figures.text and "<html" not in figures.text
    page = anonymous.get("/app/outcome-figures")
    assert "<html" in page.text and "Computed" in page.text
    assert "HOME" in home.text  # the site in scope, in the bar


def test_a_questionnaire_is_corrected_with_a_reason_and_scored_again(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    record = f.treated_patient(db, db.get(m.Site, identities.home_site_id))
    pid, course = record["patient"].id, record["course"]
    token = sign_in(anonymous, identities)
    odi = {f"item__{n}": "2" for n in range(10)}
    out_of_range = post_form(
        anonymous,
        f"/app/patients/{pid}/assessments",
        token,
        instrument="ODI",
        course_id=str(course.id),
        assessed_on=course.start_date.isoformat(),
        **{**odi, "item__3": "9"},
    )
    assert out_of_range.status_code == 422 and error_beside(out_of_range.text, "item__3")
    saved = post_form(
        anonymous,
        f"/app/patients/{pid}/assessments",
        token,
        instrument="ODI",
        course_id=str(course.id),
        assessed_on=course.start_date.isoformat(),
        **odi,
    )
    assert saved.status_code == 303
    path = saved.headers["location"].split("?")[0]
    assert re.search(r'id="score">40<', anonymous.get(path).text)  # 20 of 50 → 40
    no_reason = post_form(anonymous, path, token, reason="", **{**odi, "item__0": "0"})
    assert no_reason.status_code == 422 and error_beside(no_reason.text, "reason")
    fixed = post_form(
        anonymous, path, token, reason="item 1 misread from paper", **{**odi, "item__0": "0"}
    )
    assert fixed.status_code == 303
    page = anonymous.get(path).text
    assert re.search(r'id="score">36<', page) and "item 1 misread from paper" in page


def test_the_bar_shows_only_what_the_role_may_use(
    anonymous: TestClient, identities: Identities
) -> None:
    sign_in(anonymous, identities, "clinician")
    clinician = anonymous.get("/app").text
    assert 'href="/app/patients"' in clinician and 'href="/app/admin"' not in clinician
    assert "clinician (clinician; HOME)" in clinician
    sign_in(anonymous, identities, "researcher")
    researcher = anonymous.get("/app").text
    assert 'href="/app/patients"' not in researcher and 'href="/app/reports"' in researcher
