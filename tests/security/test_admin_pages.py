"""The administrator's pages through the in-process client: each form saves through the
services (so it is audited), a refused form names the field, and other roles get the 403 page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.followup import service as followup
from prolo.registry import models as m
from prolo.registry.models import AuditEntry
from prolo.security.models import ApiToken, User
from tests import factories as f
from tests.conftest import Identities
from tests.web.test_pages import log_in, sign_in

ADMIN_PAGES = (
    "/app/admin",
    "/app/admin/sites",
    "/app/admin/practitioners",
    "/app/admin/users",
    "/app/admin/tokens",
    "/app/admin/vocabularies?name=region",
    "/app/admin/schedule",
    "/app/admin/audit",
)


def audited(db: Session, **where: object) -> list[AuditEntry]:
    query = select(AuditEntry).where(*(getattr(AuditEntry, k) == v for k, v in where.items()))
    return list(db.scalars(query))


def test_admin_opens_every_page_and_other_roles_get_403(
    anonymous: TestClient, identities: Identities
) -> None:
    sign_in(anonymous, identities, "admin")
    for path in ADMIN_PAGES:
        page = anonymous.get(path)
        assert page.status_code == 200, path
    for role in ("clinician", "coordinator", "researcher"):
        sign_in(anonymous, identities, role)
        for path in ADMIN_PAGES:
            page = anonymous.get(path)
            assert page.status_code == 403, (role, path)
            assert f"the {role} role cannot use this page" in page.text


def test_sites_and_practitioners_with_training(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    token = sign_in(anonymous, identities, "admin")
    bad = anonymous.post("/app/admin/sites", data={"csrf_token": token, "code": "a b", "name": ""})
    assert (
        bad.status_code == 422 and 'id="code-error"' in bad.text and 'id="name-error"' in bad.text
    )
    made = anonymous.post(
        "/app/admin/sites",
        data={"csrf_token": token, "code": "NORTH", "name": "North clinic"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert "North clinic" in anonymous.get(made.headers["location"]).text
    site = db.scalars(select(m.Site).where(m.Site.code == "NORTH")).one()
    assert audited(db, entity="site", entity_id=site.id, action="create", actor="admin")

    refused = anonymous.post(
        "/app/admin/practitioners",
        data={"csrf_token": token, "name": "Dr Ada", "degree": "MD", "specialty": "pmr"},
    )
    assert refused.status_code == 422 and 'id="years_in_practice-error"' in refused.text
    created = anonymous.post(
        "/app/admin/practitioners",
        data={
            "csrf_token": token,
            "name": "Dr Ada",
            "degree": "MD",
            "specialty": "pmr",
            "years_in_practice": "9",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    where = created.headers["location"].split("?")[0]
    practitioner_id = int(where.rsplit("/", 1)[1])
    linked = anonymous.post(
        f"{where}/sites",
        data={"csrf_token": token, "site_id": str(site.id)},
        follow_redirects=False,
    )
    assert linked.status_code == 303
    training = {
        "csrf_token": token,
        "organization": "other",
        "organization_other": "Hackett Hemwall Patterson Foundation",
        "course": "Basic prolotherapy",
        "completed_on": "2020-03-01",
        "hours": "24",
    }
    assert (
        anonymous.post(f"{where}/training", data=training, follow_redirects=False).status_code
        == 303
    )
    too_long = anonymous.post(f"{where}/training", data={**training, "hours": "0"})
    assert too_long.status_code == 422 and 'id="hours-error"' in too_long.text
    record = db.scalars(
        select(m.TrainingRecord).where(m.TrainingRecord.practitioner_id == practitioner_id)
    ).one()
    assert record.verified is False
    page = anonymous.get(where).text
    assert "North clinic (NORTH)" in page and "Not verified" in page
    verified = anonymous.post(
        f"{where}/training/{record.id}/verify", data={"csrf_token": token}, follow_redirects=False
    )
    assert verified.status_code == 303
    db.refresh(record)
    assert record.verified is True
    assert audited(db, entity="training_record", entity_id=record.id, action="update")
    assert audited(db, entity="practitioner_site", actor="admin")


def test_users_add_disable_and_reset(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    token = sign_in(anonymous, identities, "admin")
    missing_site = anonymous.post(
        "/app/admin/users", data={"csrf_token": token, "username": "nora", "role": "clinician"}
    )
    assert missing_site.status_code == 422
    assert (
        'id="sites-error"' in missing_site.text and "needs at least one site" in missing_site.text
    )
    added = anonymous.post(
        "/app/admin/users",
        data={"csrf_token": token, "username": "nora", "role": "clinician", "sites": "HOME"},
    )
    assert added.status_code == 200
    found = re.search(r'<code class="secret">([^<]+)</code>', added.text)
    assert found
    one_time = found.group(1)
    user = db.scalars(select(User).where(User.username == "nora")).one()
    assert user.must_change_password and audited(db, entity="user", entity_id=user.id)
    taken = anonymous.post(
        "/app/admin/users",
        data={"csrf_token": token, "username": "nora", "role": "clinician", "sites": "HOME"},
    )
    assert taken.status_code == 409 and 'id="username-error"' in taken.text

    reset = anonymous.post("/app/admin/users/nora/reset", data={"csrf_token": token})
    again = re.search(r'<code class="secret">([^<]+)</code>', reset.text)
    assert reset.status_code == 200 and again and again.group(1) != one_time
    assert audited(db, entity="user", entity_id=user.id, action="password_reset")

    no_reason = anonymous.post("/app/admin/users/nora/disable", data={"csrf_token": token})
    assert no_reason.status_code == 422 and 'id="reason-nora-error"' in no_reason.text
    disabled = anonymous.post(
        "/app/admin/users/nora/disable",
        data={"csrf_token": token, "reason": "left the clinic"},
        follow_redirects=False,
    )
    assert disabled.status_code == 303
    db.refresh(user)
    assert user.active is False
    assert audited(db, entity="user", entity_id=user.id, action="disable")[0].reason == (
        "left the clinic"
    )
    assert log_in(anonymous, "nora", again.group(1)).status_code == 401


def test_new_user_signs_in_with_the_one_time_password(
    anonymous: TestClient, identities: Identities
) -> None:
    token = sign_in(anonymous, identities, "admin")
    added = anonymous.post(
        "/app/admin/users",
        data={"csrf_token": token, "username": "rhea", "role": "researcher"},
    )
    found = re.search(r'<code class="secret">([^<]+)</code>', added.text)
    assert found
    assert log_in(anonymous, "rhea", found.group(1)).status_code == 303
    assert anonymous.get("/app/reports", follow_redirects=False).headers["location"] == (
        "/app/password"
    )


def test_tokens_issue_and_revoke(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    token = sign_in(anonymous, identities, "admin")
    wrong = anonymous.post(
        "/app/admin/tokens",
        data={"csrf_token": token, "username": "clinician", "scope": "admin", "days": "30"},
    )
    assert wrong.status_code == 422 and 'id="scope-error"' in wrong.text
    days = anonymous.post(
        "/app/admin/tokens",
        data={"csrf_token": token, "username": "clinician", "scope": "read", "days": "999"},
    )
    assert days.status_code == 422 and 'id="days-error"' in days.text
    issued = anonymous.post(
        "/app/admin/tokens",
        data={
            "csrf_token": token,
            "username": "clinician",
            "scope": "read",
            "days": "30",
            "name": "nightly export",
        },
    )
    found = re.search(r'<code class="secret">([^<]+)</code>', issued.text)
    assert issued.status_code == 200 and found
    secret = found.group(1)
    api = anonymous.get("/sites", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200
    row = db.scalars(select(ApiToken).where(ApiToken.name == "nightly export")).one()
    revoked = anonymous.post(
        f"/app/admin/tokens/{row.id}/revoke", data={"csrf_token": token}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert audited(db, entity="api_token", entity_id=row.id, action="token_revoke")
    refused = anonymous.get("/sites", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401


def test_vocabulary_terms_are_added_once(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    token = sign_in(anonymous, identities, "admin")
    page = anonymous.get("/app/admin/vocabularies?name=agent")
    assert page.status_code == 200 and "dextrose" in page.text
    added = anonymous.post(
        "/app/admin/vocabularies/agent",
        data={"csrf_token": token, "code": "pumice_extract", "label": "Pumice extract"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert "Pumice extract" in anonymous.get(added.headers["location"]).text
    assert audited(db, entity="vocabulary_term", action="create", actor="admin")
    twice = anonymous.post(
        "/app/admin/vocabularies/agent",
        data={"csrf_token": token, "code": "pumice_extract", "label": "Again"},
    )
    assert twice.status_code == 422 and 'id="code-error"' in twice.text
    bad = anonymous.post(
        "/app/admin/vocabularies/agent", data={"csrf_token": token, "code": "a b", "label": ""}
    )
    assert bad.status_code == 422 and 'id="label-error"' in bad.text


def test_schedule_is_saved_and_checked(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    token = sign_in(anonymous, identities, "admin")
    form = {"csrf_token": token, "instruments": "NRS, DISABILITY"}
    for i, (name, target, start, end) in enumerate(
        [("baseline", 0, -30, 0), ("6w", 42, 28, 56), ("6m", 182, 150, 240)]
    ):
        form |= {
            f"tp-{i}-name": name,
            f"tp-{i}-target": str(target),
            f"tp-{i}-start": str(start),
            f"tp-{i}-end": str(end),
        }
    form["tp-0-latest"] = "true"
    broken = anonymous.post("/app/admin/schedule", data={**form, "tp-1-end": "soon"})
    assert broken.status_code == 422 and 'id="tp-1-error"' in broken.text
    saved = anonymous.post("/app/admin/schedule", data=form, follow_redirects=False)
    assert saved.status_code == 303
    assert followup.schedule(db).names() == ["baseline", "6w", "6m"]
    assert audited(db, entity="followup_schedule", action="update", actor="admin")


def test_audit_trail_filters_and_pages(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    at = f.site(db)
    for _ in range(3):
        f.patient(db, at=at)
    sign_in(anonymous, identities, "admin")
    page = anonymous.get("/app/admin/audit", params={"entity": "patient", "actor": "tester"})
    assert page.status_code == 200
    total = int(re.search(r"(\d+) entries", page.text).group(1))  # type: ignore[union-attr]
    assert total >= 3
    assert "page 1 of" not in page.text or "Older entries" in page.text
    today = anonymous.get(
        "/app/admin/audit",
        params={"entity": "patient", "since": "2000-01-01", "until": "2000-12-31"},
    )
    assert "0 entries" in today.text and "No entry matches" in today.text
    bad = anonymous.get("/app/admin/audit", params={"since": "yesterday"})
    assert bad.status_code == 422 and 'id="since-error"' in bad.text
    for _ in range(55):
        f.site(db)
    first = anonymous.get("/app/admin/audit", params={"entity": "site"}).text
    assert "page 1 of" in first and "Older entries" in first
    second = anonymous.get("/app/admin/audit", params={"entity": "site", "page": "2"}).text
    assert "page 2 of" in second and "Newer entries" in second
