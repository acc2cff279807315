"""The one line a sync or a bundle import ends with, as the agent reads it."""

from station.sync.engine import SyncReport


def test_a_sync_says_what_went_up_and_came_down_and_how_long_it_took():
    report = SyncReport(pushed=2, pulled=1, took_s=1.25)
    assert report.summary("zh") == "已发送 2 条，已接收 1 条，冲突 0 处，用时 1.2 秒"
    assert report.summary("en") == "pushed 2, pulled 1, conflicts 0, took 1.2 s"


def test_a_reply_bundle_import_says_only_what_it_brought():
    report = SyncReport(pulled=1, acked=2, carried=True)
    assert report.summary("zh") == "已接收 1 条，冲突 0 处，镇中心确认已收到 2 条"
    assert report.summary("en") == "pulled 1, conflicts 0, 2 confirmed received by the centre"


def test_a_pull_that_brought_only_a_new_catalogue_says_it_came():
    report = SyncReport(catalogue="2099-01", carried=True)
    assert report.summary("zh") == "已接收 0 条，冲突 0 处，事项目录已更新到 2099-01 版"
    assert report.summary("en") == ("pulled 0, conflicts 0, matter catalogue updated to "
                                    "version 2099-01")


def test_work_the_centre_already_had_is_counted_not_left_out():
    """A bundle carried to town whose reply never came back: the next sync finds the
    centre has them all. "pushed 0" alone, with "Not sent: 3" just before, reads as if
    they were lost."""
    report = SyncReport(pushed=0, duplicates=3, took_s=0.5)
    assert report.summary("en") == ("pushed 0 (3 more the centre already had), pulled 0, "
                                    "conflicts 0, took 0.5 s")
    assert report.summary("zh") == ("已发送 0 条（另有 3 条镇中心已有），已接收 0 条，冲突 0 处，"
                                    "用时 0.5 秒")


def test_a_reply_imported_while_locked_says_one_batch_not_one_batches():
    """`bundle import --unattended` of one reply keeps one batch, the common case."""
    assert SyncReport(kept_locked=1, carried=True).summary("en") == (
        "pulled 0, conflicts 0, 1 batch waiting for unlock")
    assert SyncReport(kept_locked=2, carried=True).summary("en").endswith(
        "2 batches waiting for unlock")
