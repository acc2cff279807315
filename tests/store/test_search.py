"""The in-memory name index: characters, full pinyin, initials; renames and compaction."""

import gc
import subprocess
import sys
import threading

from station.store.importer import import_file
from station.store.search import NameIndex, SharedNames, keys_for
from station.store.service import Station
from tests.conftest import FAST_KDF, PASSPHRASE, FakeNow


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


def test_a_name_changed_back_and_forth_is_found_once_then_not_at_all():
    index = NameIndex()
    index.bulk_load({"r1": "居民一", "r2": "居民二"})
    for _ in range(3):
        index.put("r1", "赵秀兰")
        index.put("r1", "居民一")
    assert index.query("居民") == ["r1", "r2"]  # 一 sorts before 二
    index._compact()
    assert sorted(index.query("jm")) == ["r1", "r2"] and index.query("zxl") == []
    index.put("r1", "赵秀兰")
    index._compact()
    assert index.query("jm") == ["r2"] and index.query("zxl") == ["r1"]


def test_matches_merge_old_and_new_names_in_order_and_survive_a_save_mid_walk():
    """Searches read the index lazily (the screen stops at a page): a name saved in
    between must neither break the walk nor appear twice, and old and new names interleave
    in key order."""
    index = NameIndex()
    index.bulk_load({"a": "李明", "c": "李娜", "e": "李伟"})
    index.put("b", "李芳")  # into the recent list
    assert index.query("li") == ["b", "a", "c", "e"]  # lifang, liming, lina, liwei
    walk = index.matches("li")
    first = next(walk)
    index.put("d", "李静")
    index.put("e", "王伟")  # renamed away while the walk is under way
    rest = list(walk)
    assert first == "b" and "e" not in rest and len(set(rest)) == len(rest)
    assert {first, *rest} <= {"a", "b", "c", "d"}
    assert index.query("li") == ["b", "d", "a", "c"]  # lifang, lijing, liming, lina


def test_a_name_saved_while_the_index_is_being_built_is_not_missed():
    """The app builds the index in a worker after unlock while the agent may already save."""
    shared = SharedNames()
    loading, may_finish = threading.Event(), threading.Event()

    def slow_load() -> dict[str, tuple[int, str]]:
        loading.set()
        may_finish.wait(5)
        return {"r1": (1, "王桂英")}  # read before the new record was committed

    builder = threading.Thread(target=lambda: shared.get(slow_load))
    builder.start()
    assert loading.wait(5)
    saver = threading.Thread(target=lambda: shared.put("r2", "欧阳秀兰"))
    saver.start()
    may_finish.set()
    builder.join(5)
    saver.join(5)
    index = shared.get(dict)
    assert index.query("oyxl") == ["r2"]
    assert index.query("王") == ["r1"]


def test_a_bulk_import_on_a_worker_connection_is_searchable_on_the_main_one(tmp_path):
    station, _ = Station.init(tmp_path / "V001", station_id="V001", name="青石村便民服务站",
                              agent="李春梅", passphrase=PASSPHRASE, kdf=FAST_KDF, now=FakeNow())
    try:
        assert station.search("欧阳") == []  # the index is built, and empty
        worker = station.clone()
        path = tmp_path / "residents.csv"
        path.write_text("name,id_number\n欧阳秀兰,11010119500101101X\n", encoding="utf-8")
        import_file(worker, path)
        worker.close()
        assert [s.name for s in station.search("oyxl")] == ["欧阳秀兰"]
    finally:
        station.close()


def test_a_big_name_index_stays_out_of_the_cyclic_collectors_way():
    """Every full garbage collection walks what it tracks: on a 100 000-name station the
    index's key sets made that a 0.2 s pause in the middle of a save or a keystroke."""
    gc.collect()
    before = len(gc.get_objects())
    index = NameIndex()
    index.bulk_load({f"r{i}": f"王桂英{i}" for i in range(20_000)})
    index.put("r1", "张秀兰")
    gc.collect()
    assert len(gc.get_objects()) - before < 1_000
    assert index.query("zxl") == ["r1"]


def test_the_pinyin_tables_are_left_out_of_full_collections():
    code = ("import gc, station.store.search; gc.collect(); "
            "print(len(gc.get_objects()), gc.get_freeze_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    tracked, frozen = int(out[0]), int(out[1])
    assert frozen > 100_000  # pypinyin's lists, loaded at import
    assert tracked < 20_000


def test_a_rename_rolled_back_with_its_transaction_is_not_found(station):
    record = station.create("resident", {"resident.name": "张三丰"})
    assert [s.id for s in station.search("张三丰")] == [record.id]  # the index is built
    try:
        with station.atomic():
            station.update(record.id, {"resident.name": "李四光"})
            raise RuntimeError("the status change after it was refused")
    except RuntimeError:
        pass
    assert station.get(record.id).name == "张三丰"
    assert station.search("李四光") == []
    assert [s.id for s in station.search("zsf")] == [record.id]


def test_a_name_with_a_middle_dot_is_found_whatever_dot_or_none_is_typed(station):
    """An agent types the dot of 阿卜杜拉·艾买提 as the input method gives it (·, •, ・, a
    full stop) or not at all, and the initials run on past it."""
    record = station.create("resident", {"resident.name": "阿卜杜拉·艾买提"})
    for typed in ("阿卜杜拉·艾", "阿卜杜拉•艾买提", "阿卜杜拉・艾", "阿卜杜拉.艾", "阿卜杜拉艾买",
                  "abdlamt", "abdl.amt", "ABDL·A"):
        assert [s.id for s in station.search(typed)] == [record.id], typed


def test_a_name_saved_with_a_bullet_is_found_by_the_middle_dot(station):
    record = station.create("resident", {"resident.name": "买买提•吐尔逊"})
    assert [s.id for s in station.search("买买提·吐")] == [record.id]


def test_full_width_pinyin_finds_the_name(station):
    """An input method left in full-width mode types ｗｇｙ."""
    record = station.create("resident", {"resident.name": "王桂英"})
    assert [s.id for s in station.search("ｗｇｙ")] == [record.id]
    assert [s.id for s in station.search("ＷＡＮＧＧＵＩ")] == [record.id]
