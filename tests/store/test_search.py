"""The in-memory name index: characters, full pinyin, initials; renames and compaction."""

from station.store.search import NameIndex, keys_for


def test_keys_cover_characters_pinyin_and_initials():
    keys = keys_for("王桂英")
    assert {"王桂英", "wangguiying", "wgy"} <= keys


def test_characters_with_two_readings_are_found_by_both():
    keys = keys_for("长乐")
    assert {"changle", "zhangle"} & keys == {"changle", "zhangle"}


def test_prefix_queries():
    index = NameIndex()
    index.bulk_load({"a": "王桂英", "b": "王建国", "c": "张秀兰"})
    assert index.query("王") == ["a", "b"] or set(index.query("王")) == {"a", "b"}
    assert index.query("wgy") == ["a"]
    assert index.query("wangj") == ["b"]
    assert index.query("zxl") == ["c"]
    assert index.query("  ") == []


def test_renames_and_new_names_are_found_before_and_after_compaction():
    index = NameIndex()
    index.bulk_load({f"r{i}": f"居民{i}" for i in range(100)})
    index.put("r1", "赵秀兰")
    index.put("new", "钱多多")
    assert index.query("zxl") == ["r1"]
    assert index.query("qdd") == ["new"]
    assert "r1" not in index.query("居民1")
    index.put("r1", "居民1")  # renamed back
    assert "r1" in index.query("居民1") and index.query("zxl") == []
    for i in range(NameIndex.COMPACT_AT):  # force a compaction
        index.put(f"x{i}", f"孙{i}")
    assert index.query("r") == [] and index.query("qdd") == ["new"]
    assert "r1" in index.query("居民1") and index.query("zxl") == []
    assert index.name("new") == "钱多多" and len(index) == 101 + NameIndex.COMPACT_AT
