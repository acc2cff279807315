"""Every screen, by the name the app, its bindings and the command palette use."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from textual.screen import Screen

from station.tui.text import UI, Pair

# name -> (module, class, keyword arguments)
SCREENS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "dashboard": ("station.tui.screens.dashboard", "DashboardScreen", {}),
    "applications": ("station.tui.screens.records", "RecordListScreen",
                     {"kind": "application"}),
    "visits": ("station.tui.screens.records", "RecordListScreen", {"kind": "visit"}),
    "residents": ("station.tui.screens.records", "RecordListScreen", {"kind": "resident"}),
    "new_application": ("station.tui.screens.application_form", "ApplicationFormScreen", {}),
    "new_visit": ("station.tui.screens.visit_form", "VisitFormScreen", {}),
    "conflicts": ("station.tui.screens.conflicts", "ConflictsScreen", {}),
    "sync": ("station.tui.screens.sync", "SyncScreen", {}),
    "reports": ("station.tui.screens.reports", "ReportsScreen", {}),
    "backup": ("station.tui.screens.backup", "BackupModal", {}),
}

# What the command palette offers: (screen name, label, help).
COMMANDS: list[tuple[str, Pair, Pair]] = [
    ("dashboard", UI["dashboard"],
     ("今日工作、到期提醒、同步状态", "Today's work, due dates, sync")),
    ("applications", UI["applications"], ("查找、筛选、打开代办件", "Find, filter, open")),
    ("visits", UI["visits"], ("查找、打开上门服务记录", "Find and open home visits")),
    ("residents", UI["residents"], ("居民台账", "The village's residents")),
    ("new_application", UI["new_application"],
     ("受理一件新的代办件", "Receive a new application")),
    ("new_visit", UI["new_visit"], ("记录一次上门服务", "Record a home visit")),
    ("conflicts", UI["conflicts"], ("逐项处理不一致的修改", "Settle disagreeing edits")),
    ("sync", UI["sync"], ("与镇中心同步、U 盘数据包", "Sync with the centre, USB bundles")),
    ("reports", UI["reports"], ("本月办结率、按时率、满意率", "This month's figures")),
    ("backup", UI["backup"], ("把站点数据备份到 U 盘等处（仍然加密）",
                              "Copy the station to a USB stick (still encrypted)")),
]


def make_record(record_id: str) -> Screen[Any]:
    """The screen of one record (its fields, history and what can be done with it)."""
    module = import_module("station.tui.screens.record")
    screen: Screen[Any] = module.RecordScreen(record_id)
    return screen


def make_resident(id_number: str) -> Screen[Any]:
    """Everything for one person (same ID number): 一办到底 in one screen."""
    module = import_module("station.tui.screens.resident")
    screen: Screen[Any] = module.ResidentScreen(id_number)
    return screen


def make_due_list(due: str) -> Screen[Any]:
    """The applications list filtered to one of this month's lists (a dashboard card)."""
    module = import_module("station.tui.screens.records")
    screen: Screen[Any] = module.RecordListScreen("application", due=due)
    return screen


def make(name: str) -> Screen[Any]:
    module, cls, kwargs = SCREENS[name]
    screen: Screen[Any] = getattr(import_module(module), cls)(**kwargs)
    return screen
