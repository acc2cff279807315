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
}

# What the command palette offers: (screen name, label, help).
COMMANDS: list[tuple[str, Pair, Pair]] = [
    ("dashboard", UI["dashboard"],
     ("今日工作、到期提醒、同步状态", "Today's work, due dates, sync")),
    ("applications", UI["applications"], ("查找、筛选、打开代办件", "Find, filter, open")),
    ("visits", UI["visits"], ("查找、打开上门服务记录", "Find and open home visits")),
    ("residents", UI["residents"], ("居民台账", "The village's residents")),
]


def make_record(record_id: str) -> Screen[Any]:
    """The screen of one record (its fields, history and what can be done with it)."""
    module = import_module("station.tui.screens.record")
    screen: Screen[Any] = module.RecordScreen(record_id)
    return screen


def make(name: str) -> Screen[Any]:
    module, cls, kwargs = SCREENS[name]
    screen: Screen[Any] = getattr(import_module(module), cls)(**kwargs)
    return screen
