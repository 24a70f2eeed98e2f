"""Pinyin initials in the unit picker: "nx" or "nxwjw" finds 宁夏回族自治区卫生健康委, after the
names and codes that match, within the user's scope; every way of writing a unit keeps its
initials; migration 0046 fills the units that were there."""

from __future__ import annotations

import io
import random

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, select, text

from tests.conftest import count_queries, unit
from tracker import create_app
from tracker.config import TestConfig
from tracker.demo.generate import GenerateReport, Scale, _make_units
from tracker.extensions import db
from tracker.importer.schema import UnitSpec
from tracker.importer.seed import LoadReport, upsert_units
from tracker.initials import INITIALS_MAX, name_initials
from tracker.models import OrgUnit
from tracker.models.base import utcnow
from tracker.pickers.units import SEARCH_LIMIT, search_units, typed_initials
from tracker.units import service as units

HX = {"HX-Request": "true"}


# --- the initials of a name --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, initials",
    [
        ("宁夏回族自治区卫生健康委", "nxhzzzqwsjkw"),
        ("北京协和医院", "bjxhyy"),
        ("第2人民医院", "d2rmyy"),
        ("P11质控中心", "p11zkzx"),
        ("重庆市卫生健康委", "cqswsjkw"),  # a polyphone read by its word: 重庆 chóngqìng
        ("银川市第一人民医院（西院）", "ycsdyrmyyxy"),  # brackets dropped
        ("厦门大学 附属 ABC 医院", "xmdxfsabcyy"),  # spaces dropped, Latin letters lower-cased
        ("Ｐ１２全角", "p12qj"),  # full-width letters and digits as ordinary ones
        ("", ""),
    ],
)
def test_the_initials_of_a_name(name, initials):
    assert name_initials(name) == initials


def test_the_initials_fit_the_column():
    assert len(name_initials("医" * 200)) == INITIALS_MAX


@pytest.mark.parametrize(
    "typed, initials",
    [
        ("nx", "nx"),
        ("NX WJW", "nxwjw"),
        ("p11", ""),  # one letter: a code, not initials
        ("p11zk", "p11zk"),
        ("n", ""),
        ("11", ""),
        ("宁夏", ""),
        ("nx宁", ""),
        ("n-x", "nx"),
    ],
)
def test_what_typed_text_counts_as_initials(typed, initials):
    """Lower-cased, letters and digits only, at least two letters, and no Chinese character."""
    assert typed_initials(typed) == initials


# --- every way of writing a unit keeps its initials ---------------------------------------------


def _stored_initials(code: str) -> tuple[str, str]:
    db.session.expire_all()
    return tuple(db.session.execute(select(OrgUnit.name, OrgUnit.initials).where(OrgUnit.code == code)).one())


def _matches(code: str) -> bool:
    name, initials = _stored_initials(code)
    return initials == name_initials(name) != ""


def test_the_seeded_catalogue_has_its_initials():
    rows = db.session.execute(select(OrgUnit.name, OrgUnit.initials)).all()
    assert len(rows) > 50 and all(initials == name_initials(name) for name, initials in rows)
    assert _stored_initials("P64") == ("宁夏回族自治区卫生健康委", "nxhzzzqwsjkw")


def test_every_way_of_writing_a_unit_leaves_matching_initials(client, auth, make_user, make_unit):
    admin = make_user("admin", "NHC")
    # an ORM unit, and a rename of it
    made = make_unit("P64-H1", "P64", name="银川市第一人民医院")
    assert made.initials == "ycsdyrmyy" and _matches("P64-H1")
    made = unit("P64-H1")
    made.name = "银川市第二人民医院"
    assert made.initials == "ycsdermyy"  # at once, before the flush
    db.session.commit()
    assert _matches("P64-H1")
    # the unit admin pages: a new unit, and a rename
    auth.login(admin)
    data = {"code": "P64-H2", "name": "吴忠市人民医院", "kind": "institution", "level": "institution", "parent": "P64"}
    assert client.post("/admin/units/new", data=data).status_code == 303
    assert _stored_initials("P64-H2") == ("吴忠市人民医院", "wzsrmyy")
    edit = {"name": "吴忠市中医医院", "kind": "institution", "level": "institution"}
    assert client.post("/admin/units/P64-H2", data=edit).status_code == 303
    assert _stored_initials("P64-H2") == ("吴忠市中医医院", "wzszyyy")
    # the service the pages call
    units.edit_unit(admin, unit("P64-H2"), "固原市人民医院", "institution", "institution")
    db.session.commit()
    assert _stored_initials("P64-H2") == ("固原市人民医院", "gysrmyy")
    # the units sheet import
    sheet = ("代码,名称,类型,级别,上级单位\nP64-H3,石嘴山市第3人民医院,医疗机构,机构级,P64\n").encode("utf-8-sig")
    response = client.post(
        "/admin/units/import", data={"file": (io.BytesIO(sheet), "units.csv")}, content_type="multipart/form-data"
    )
    assert response.status_code in (200, 303)
    assert _stored_initials("P64-H3") == ("石嘴山市第3人民医院", "szssd3rmyy")
    # the seed loader: a new unit and a renamed one
    p64 = unit("P64")
    specs = [
        UnitSpec("P64-S1", "中卫市卫生健康委", "commission", "prefecture", "P64", True, 90),
        UnitSpec("P64-QC", "宁夏肿瘤质控中心", "qc_center", "provincial", "P64", False, 0),
    ]
    upsert_units(
        [UnitSpec(p64.code, p64.name, p64.kind, p64.level, "NHC", p64.example, p64.position), *specs], LoadReport()
    )
    db.session.commit()
    assert _stored_initials("P64-S1") == ("中卫市卫生健康委", "zwswsjkw")
    assert _stored_initials("P64-QC") == ("宁夏肿瘤质控中心", "nxzlzkzx")
    # a Core insert of rows as dicts (the tests' bulk inserts): the column's default, row by row
    rows = [
        dict(code=f"P64-B{n}", name=f"第{n}卫生院", kind="institution", level="institution", parent_id=p64.id, path="")
        for n in (1, 2)
    ]
    db.session.execute(insert(OrgUnit), rows)
    db.session.commit()
    assert _stored_initials("P64-B1") == ("第1卫生院", "d1wsy") and _stored_initials("P64-B2") == ("第2卫生院", "d2wsy")


def test_the_demo_generators_units_have_their_initials():
    provinces = [unit("P64")]
    _make_units(provinces, Scale((1, 1), (2, 2), sections=1, duties_per_section=1), random.Random(7), GenerateReport())
    db.session.commit()
    generated = db.session.execute(
        select(OrgUnit.name, OrgUnit.initials).where(OrgUnit.code.startswith("G-P64-"))
    ).all()
    assert len(generated) == 3
    assert all(initials == name_initials(name) != "" for name, initials in generated)
    assert ("宁夏回族自治区第1市卫生健康委", "nxhzzzqd1swsjkw") in generated


# --- the search ----------------------------------------------------------------------------------


def test_the_initials_find_a_unit_by_prefix_and_by_its_short_names_letters(make_user):
    admin = make_user("admin", "NHC")
    assert search_units(admin, "nx")[0].code == "P64"
    assert search_units(admin, "NXHZ")[0].code == "P64"
    assert search_units(admin, "nxwjw")[0].code == "P64"  # 宁夏卫健委: n…x…w…j…w in order
    assert search_units(admin, "bjwjw")[0].code == "P11"
    assert "P64-QC" in {u.code for u in search_units(admin, "nxzkzx")}  # 宁夏…质控中心


def test_chinese_text_keeps_its_matches(make_user):
    admin = make_user("admin", "NHC")
    assert search_units(admin, "宁夏卫健委")[0].code == "P64"
    with count_queries() as n:
        search_units(admin, "宁夏")
    assert n() == 1  # no initials statement for Chinese text


def test_a_provincial_user_is_not_offered_another_provinces_unit_by_its_initials(make_user):
    coordinator = make_user("coordinator", "P11")
    assert [u.code for u in search_units(coordinator, "bj")][:1] == ["P11"]
    assert search_units(coordinator, "nx") == [] and search_units(coordinator, "nxwjw") == []
    nx = make_user("reporter", "P64-QC")
    assert {u.code for u in search_units(nx, "nx")} == {"P64-QC"}  # their own subtree only


def test_a_retired_unit_is_not_offered_by_its_initials(make_user, make_unit):
    admin = make_user("admin", "NHC")
    gone = make_unit("P64-OLD", "P64", name="宁夏旧医院")
    gone.retired_at = utcnow()
    db.session.commit()
    assert "P64-OLD" not in {u.code for u in search_units(admin, "nxjyy")}
    assert "P64-OLD" in {u.code for u in search_units(admin, "nxjyy", include_retired=True)}


def test_codes_and_names_rank_before_initials_and_a_prefix_before_letters_in_order(make_user, make_unit):
    admin = make_user("admin", "NHC")
    make_unit("NX-LAB", "NHC", level="national", name="某实验室")  # its code starts with what is typed
    make_unit("NFXH", "NHC", level="national", name="南方协和医院")  # nfxhyy: n…x in order, not the prefix
    codes = [u.code for u in search_units(admin, "nx")]
    assert codes[0] == "NX-LAB"
    assert codes.index("P64") < codes.index("NFXH")  # a national unit, yet after the prefix match
    assert codes.count("NX-LAB") == 1  # found by its code, not again by its initials


def test_the_search_by_initials_is_at_most_two_statements_and_twenty_units(make_user, make_unit):
    admin = make_user("admin", "NHC")
    for n in range(SEARCH_LIMIT + 5):
        make_unit(f"P64-Y{n}", "P64", name=f"宁夏第{n}医院")
    assert admin.unit.path and admin.role
    with count_queries() as n:
        found = search_units(admin, "nx")
    assert n() <= 2 and len(found) == SEARCH_LIMIT
    with count_queries() as n:
        search_units(admin, "p64")  # the code prefix fills the page: no initials statement
    assert n() == 1


def test_the_picker_fragment_offers_a_unit_by_its_initials(client, auth, make_user):
    auth.login(make_user("coordinator", "P64"))
    page = client.get("/units/search?q=nxwjw&field=owner", headers=HX).get_data(as_text=True)
    assert "宁夏回族自治区卫生健康委" in page and "<html" not in page
    assert 'class="unit-option-initials" lang="en">nxhzzzqwsjkw<' in page  # the initials, shown subtly
    assert "unit-option-initials" not in client.get("/units/search?q=宁夏", headers=HX).get_data(as_text=True)
    auth.login(make_user("coordinator", "P11"))
    page = client.get("/units/search?q=nxwjw&field=owner", headers=HX).get_data(as_text=True)
    assert "宁夏" not in page


# --- the migration fills the units that were there -------------------------------------------


def test_migration_0046_fills_the_initials_of_existing_units(scratch_database_url):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_database_url)
    with app.app_context():
        upgrade(revision="0045")
        with db.engine.begin() as conn:
            for n, name in enumerate(
                ["宁夏回族自治区卫生健康委", "北京协和医院", "P11质控中心", "第2人民医院"], start=1
            ):
                conn.execute(
                    text(
                        "INSERT INTO org_units (id, code, name, kind, level, path, position, example, origin) "
                        "VALUES (:id, :code, :name, 'commission', 'provincial', :path, 0, false, 'seed')"
                    ),
                    {"id": n, "code": f"U{n}", "name": name, "path": f"/{n}/"},
                )
        upgrade(revision="0046")
        with db.engine.connect() as conn:
            filled = dict(conn.execute(text("SELECT code, initials FROM org_units ORDER BY id")).all())
        assert filled == {"U1": "nxhzzzqwsjkw", "U2": "bjxhyy", "U3": "p11zkzx", "U4": "d2rmyy"}
        downgrade(revision="0045")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in db.inspect(conn).get_columns("org_units")}
        assert "initials" not in columns
        db.session.remove()
        db.engine.dispose()
