"""The record kinds and their fields: what each field holds and how it merges.

A record is a flat mapping of dotted field names ("applicant.name") to values. Each field
has a *merge kind* (DESIGN §6), which decides which op may write it and how concurrent
writes combine:

- ``register``   plain value; written by ``set`` ops; concurrent different values conflict.
- ``map``        a family of registers keyed after the dot: ``materials.due.M02`` is the
                 promised date of the missing material M02.
- ``orset``      a set (materials received, services done): ``add`` / ``remove``, add wins.
- ``log``        append-only entries (contacts, notes): ``append``, merged by union.
- ``status``     the status lattice (``station.domain.status``): ``status`` ops.
- ``authority``  a register only the town centre writes (outcome, reason, official receipt).

``personal`` marks what identifies a resident; it never leaves the vault in plaintext and the
ID number and phone are also looked up through the blind index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

MergeKind = Literal["register", "map", "orset", "log", "status", "authority"]
ValueType = Literal["text", "longtext", "id_number", "phone", "date", "datetime", "bool",
                    "choice", "matter", "record_ref", "json"]

KINDS = ("application", "visit", "resident")


@dataclass(frozen=True)
class Field:
    """One field of a record kind."""

    name: str
    merge: MergeKind
    type: ValueType
    zh: str
    en: str
    personal: bool = False
    choices: tuple[str, ...] = ()
    max_len: int = 200
    immutable: bool = False  # set once, at creation (the receipt number)


def _person(prefix: str, zh_who: str, en_who: str) -> tuple[Field, ...]:
    return (
        Field(f"{prefix}.name", "register", "text", f"{zh_who}姓名", f"{en_who} name",
              personal=True, max_len=50),
        Field(f"{prefix}.id_number", "register", "id_number", f"{zh_who}身份证号",
              f"{en_who} ID number", personal=True),
        Field(f"{prefix}.phone", "register", "phone", f"{zh_who}手机号", f"{en_who} phone",
              personal=True),
        Field(f"{prefix}.address", "register", "text", f"{zh_who}住址", f"{en_who} address",
              personal=True, max_len=120),
        Field(f"{prefix}.village_group", "register", "text", "村民小组", "Village group",
              max_len=40),
    )


RELATIONSHIPS = ("self", "spouse", "child", "parent", "sibling", "grandchild", "other_relative",
                 "guardian", "agent")
CHANNELS = ("station", "home_visit", "bus")
VISIT_REASONS = ("elderly", "disabled", "ill", "other")
SERVICES = ("consultation", "alive_certification", "document_collection", "insurance_payment",
            "subsidy_application", "medicine_delivery", "health_check", "policy_explanation",
            "safety_check", "other")
CATEGORIES = ("elderly", "living_alone", "disabled", "low_income", "extreme_poverty",
              "left_behind_child", "veteran", "seriously_ill")
RATINGS = ("good", "average", "poor")
CONTACT_VIAS = ("phone", "visit", "message")

# How each choice reads to a person: code -> (zh, en). Forms and imports accept either the
# code or the Chinese label, because village spreadsheets are written in Chinese.
CHOICE_LABELS: dict[str, tuple[str, str]] = {
    "self": ("本人", "self"), "spouse": ("配偶", "spouse"), "child": ("子女", "child"),
    "parent": ("父母", "parent"), "sibling": ("兄弟姐妹", "sibling"),
    "grandchild": ("孙子女", "grandchild"), "other_relative": ("其他亲属", "other relative"),
    "guardian": ("监护人", "guardian"), "agent": ("代办员", "proxy agent"),
    "station": ("村站", "station"), "home_visit": ("上门", "home visit"),
    "bus": ("直通车", "service bus"),
    "elderly": ("老年人", "elderly"), "disabled": ("残疾人", "disabled"),
    "ill": ("患病", "ill"), "other": ("其他", "other"),
    "consultation": ("政策咨询", "consultation"),
    "alive_certification": ("生存认证", "alive certification"),
    "document_collection": ("收取材料", "document collection"),
    "insurance_payment": ("代缴保费", "insurance payment help"),
    "subsidy_application": ("补贴申请", "subsidy application"),
    "medicine_delivery": ("送药上门", "medicine delivery"),
    "health_check": ("健康随访", "health check"),
    "policy_explanation": ("政策宣讲", "policy explanation"),
    "safety_check": ("安全检查", "safety check"),
    "living_alone": ("独居老人", "living alone"), "low_income": ("低保对象", "low income"),
    "extreme_poverty": ("特困人员", "extreme poverty"),
    "left_behind_child": ("留守儿童", "left-behind child"),
    "veteran": ("退役军人", "veteran"), "seriously_ill": ("大病患者", "seriously ill"),
    "good": ("满意", "good"), "average": ("基本满意", "average"), "poor": ("不满意", "poor"),
    "phone": ("电话", "phone"), "visit": ("上门", "visit"), "message": ("短信/微信", "message"),
    "completed": ("办结", "completed"), "returned": ("退回", "returned"),
}


@cache
def _by_label(choices: tuple[str, ...]) -> dict[str, str]:
    return {CHOICE_LABELS[code][0]: code for code in choices if code in CHOICE_LABELS}


def choice_code(text: str, choices: tuple[str, ...]) -> str:
    """The code for what a person typed: the code itself or its Chinese label."""
    text = text.strip()
    if text in choices:
        return text
    return _by_label(choices).get(text, text)


_ITEM_SPLIT = re.compile(r"[、,，;；/|\s]+")


def split_items(text: str) -> list[str]:
    """The items of a list typed in one cell: 独居老人、老年人 or "M01; M02"."""
    return [part for part in _ITEM_SPLIT.split(text.strip()) if part]


def choice_label(code: str, lang: str) -> str:
    zh, en = CHOICE_LABELS.get(code, (code, code))
    return zh if lang == "zh" else en

_COMMON_TAIL = (
    Field("receipt", "register", "text", "受理编号", "Receipt no.", immutable=True, max_len=40),
    Field("status", "status", "choice", "状态", "Status"),
    Field("notes", "log", "longtext", "备注", "Notes", max_len=2000),
)
_RATED = (
    Field("rating", "register", "json", "满意度评价", "Satisfaction rating"),
    Field("followup", "register", "json", "差评整改", "Poor-rating follow-up"),
)

SCHEMAS: dict[str, tuple[Field, ...]] = {
    "application": (
        Field("matter", "register", "matter", "事项", "Matter"),
        *_person("applicant", "申请人", "Applicant"),
        Field("authorisation.relationship", "register", "choice", "委托关系",
              "Authorisation: relationship", choices=RELATIONSHIPS),
        Field("authorisation.signed", "register", "bool", "已签委托书",
              "Authorisation signed"),
        Field("agent", "register", "text", "代办员", "Proxy agent", max_len=50),
        Field("channel", "register", "choice", "渠道", "Channel", choices=CHANNELS),
        Field("materials.received", "orset", "text", "已收材料", "Materials received"),
        Field("materials.due", "map", "date", "容缺承诺日期", "Date promised for missing material"),
        Field("received_on", "register", "date", "受理日期", "Received on"),
        Field("promised_date", "register", "date", "承诺办结时限", "Promised completion"),
        Field("closed_on", "register", "date", "办结日期", "Closed on"),
        Field("outcome", "authority", "choice", "办理结果", "Outcome",
              choices=("completed", "returned")),
        Field("outcome_reason", "authority", "longtext", "结果说明", "Outcome reason",
              max_len=500),
        Field("official_receipt", "authority", "text", "部门受理号", "Official receipt no.",
              max_len=60),
        Field("contacts", "log", "json", "联系记录", "Contact log"),
        *_RATED,
        *_COMMON_TAIL,
    ),
    "visit": (
        *_person("resident", "服务对象", "Resident"),
        Field("reason", "register", "choice", "上门原因", "Reason", choices=VISIT_REASONS),
        Field("services", "orset", "choice", "服务内容", "Services done", choices=SERVICES),
        Field("scheduled_at", "register", "datetime", "预约时间", "Scheduled"),
        Field("actual_at", "register", "datetime", "实际时间", "Visited at"),
        Field("staff", "register", "text", "上门人员", "Staff", max_len=50),
        Field("result", "register", "longtext", "服务结果", "Result", max_len=500),
        Field("next_visit", "register", "date", "下次上门", "Next visit"),
        Field("linked", "orset", "record_ref", "关联代办件", "Linked applications"),
        *_RATED,
        *_COMMON_TAIL,
    ),
    "resident": (
        *_person("resident", "居民", "Resident"),
        Field("categories", "orset", "choice", "重点人群类别", "Categories",
              choices=CATEGORIES),
        *_COMMON_TAIL,
    ),
}

# The field holding each kind's person: its name is what the in-memory search indexes.
PERSON_PREFIX = {"application": "applicant", "visit": "resident", "resident": "resident"}


def required_fields(kind: str) -> tuple[str, ...]:
    """The fields a record is never without once saved: whom it is about, and for an
    application its matter. The forms ask for them; an edit or a settled conflict may change
    them, never clear them."""
    person = (f"{PERSON_PREFIX[kind]}.name",)
    return ("matter", *person) if kind == "application" else person


_BY_NAME = {kind: {f.name: f for f in fields} for kind, fields in SCHEMAS.items()}


def field_for(kind: str, name: str) -> Field | None:
    """The field definition for ``name`` in ``kind`` (``materials.due.M02`` → the map)."""
    found = _BY_NAME[kind].get(name)
    if found is None and "." in name:
        parent = _BY_NAME[kind].get(name.rsplit(".", 1)[0])
        if parent is not None and parent.merge == "map":
            return parent
    return found


def field_label_pair(kind: str, name: str) -> tuple[str, str]:
    """(zh, en) label of a field as people read it, with the key of a map field
    (``容缺承诺日期 M03``); an unknown field is named as it is."""
    spec = field_for(kind, name)
    if spec is None:
        return name, name
    key = name[len(spec.name) + 1:] if spec.merge == "map" else ""
    return (f"{spec.zh} {key}".strip(), f"{spec.en} {key}".strip())
