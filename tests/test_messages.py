"""Every error a person can meet reads whole in the language they chose.

A Chinese sentence names ``{detail_zh}``, never the English ``{detail}``: a raise site that
has no Chinese detail still shows its English one (``StationError.message`` falls back), but
one that has it must never be hidden behind an English template.
"""

from __future__ import annotations

import errno
import importlib
import pkgutil

import pytest

import station
from station.domain.errors import StationError
from station.store.errors import CorruptDatabase


def _all_errors() -> list[type[StationError]]:
    for module in pkgutil.walk_packages(station.__path__, "station."):
        importlib.import_module(module.name)
    found, todo = [], [StationError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


ERRORS = _all_errors()


def test_every_error_class_is_found():
    assert len(ERRORS) > 60 and CorruptDatabase in ERRORS


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_chinese_sentences_name_the_chinese_detail(cls):
    assert "{detail}" not in cls.zh, f"{cls.__name__}.zh should name {{detail_zh}}"
    assert "{detail_zh}" not in cls.en and "{detail_en}" not in cls.en


def test_a_file_that_cannot_be_read_is_explained_in_words():
    missing = FileNotFoundError(errno.ENOENT, "No such file or directory")
    error = CorruptDatabase.reading(missing, path="/x/station.db")
    assert "文件不存在" in error.message("zh") and "No such file" not in error.message("zh")
    assert "does not exist" in error.message("en")
    full = OSError(errno.ENOSPC, "No space left on device")
    assert "已满" in CorruptDatabase.writing(full, path="/x").message("zh")


def test_an_english_only_detail_still_shows_in_chinese():
    assert "checksum" in CorruptDatabase(path="/x", detail="checksum").message("zh")
