"""Words the whole app shares, in Chinese and English. Each screen keeps its own sentences
next to its code (``TEXT`` in the module); field, status and choice labels come from the
domain (``station.domain.records``, ``station.domain.status``), so the CLI says the same."""

from __future__ import annotations

from station.domain.records import choice_label, field_label_pair
from station.domain.status import LATTICES

Pair = tuple[str, str]

UI: dict[str, Pair] = {
    "app": ("便民服务站", "station"),
    "save": ("保存", "Save"),
    "cancel": ("取消", "Cancel"),
    "back": ("返回", "Back"),
    "quit": ("退出", "Quit"),
    "search": ("搜索", "Search"),
    "new_application": ("新建代办件", "New application"),
    "new_visit": ("新建上门服务", "New visit"),
    "applications": ("代办件", "Applications"),
    "visits": ("上门服务", "Visits"),
    "residents": ("居民", "Residents"),
    "dashboard": ("首页", "Dashboard"),
    "sync": ("同步", "Sync"),
    "conflicts": ("冲突", "Conflicts"),
    "reports": ("月度报表", "Reports"),
    "backup": ("备份", "Backup"),
    "open": ("打开", "Open"),
    "saved": ("已保存", "Saved"),
    "nothing": ("没有修改。", "Nothing changed."),
    "none": ("无", "none"),
    "all": ("全部", "All"),
    "receipt": ("编号", "Receipt"),
    "name": ("姓名", "Name"),
    "status": ("状态", "Status"),
    "matter": ("事项", "Matter"),
    "due": ("到期", "Due"),
    "kind": ("类型", "Kind"),
    "reason": ("原因", "Reason"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
}

KIND: dict[str, Pair] = {"application": ("代办件", "application"),
                         "visit": ("上门服务", "visit"), "resident": ("居民", "resident")}


def pick(pair: Pair, lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def field_label(kind: str, name: str, lang: str) -> str:
    return pick(field_label_pair(kind, name), lang)


def status_label(kind: str, status: str, lang: str) -> str:
    lattice = LATTICES[kind]
    return lattice.label(status, lang) if status in lattice.states else status


__all__ = ["KIND", "UI", "Pair", "choice_label", "field_label",
           "pick", "status_label"]
