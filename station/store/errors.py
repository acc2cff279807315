"""Errors of the local store and vault. Each leaves the data as it was.

    StoreError
     ├── NotAStation       the data dir has no station (or the file is not ours)
     ├── DamagedBackup     a backup's copy is cut short or damaged: nothing restored
     ├── CorruptDatabase   not an SQLite file, or PRAGMA checks failed
     ├── NewerSchema       made by a newer station: refuse rather than guess
     ├── StationExists     init over an existing vault without --force
     ├── UnsentWork        a reset would drop changesets never sent or exported
     ├── NoSuchRecord      no record with that receipt number or id
     ├── AmbiguousReceipt  a receipt number reused (a reinstalled laptop): use the id
     ├── NoSuchConflict    no open conflict with that id
     ├── NoSuchValue       no competing value with that tag in the conflict
     ├── CentreSettles     two centre decisions disagree: only the centre settles them
     ├── SettleChoice      settle needs exactly one of a picked head or a new value
     ├── ConflictChanged   its values changed while a person was choosing among them
     ├── Busy              another process holds the database too long
     ├── FileGone          the open database file was deleted or replaced underneath
     ├── CannotWrite       the disk refuses (read-only, permissions)
     ├── DiskFull          the disk has no room left for the write
     ├── ForeignWal        another station's -wal file copied in beside the database
     ├── WalMissing        the -wal file with the newest saves deleted or cut short
     ├── TransportKeyDamaged  the key file that signs sync requests missing or garbled
     └── VaultError
          ├── WrongPassphrase   no key slot opens with that passphrase
          ├── WeakPassphrase    too short to protect residents' data
          ├── BadRecoveryKey    mistyped or not this station's
          ├── UnknownAgent      no key slot for that agent
          ├── AgentExists       that agent already has a slot
          ├── ReservedAgent     the name of the recovery key's own slot
          ├── LastSlot          removing it would lock everyone out
          ├── OwnSlot           the agent at the keyboard removing their own
          ├── DamagedSlot       a key slot whose stored cost was altered or damaged
          ├── Tampered          a ciphertext failed authentication (names the row)
          ├── NotAFile          a file write would replace a device, folder or link
          └── OverStationFile   a file write would replace the station's own file or a
                                station's database (an export, a bundle, a saved notice)
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from station.domain.errors import StationError


class StoreError(StationError):
    code = "store.error"
    zh = "本地数据出错：{detail_zh}"
    en = "Local data problem: {detail}"


class NotAStation(StoreError):
    code = "store.not_a_station"
    zh = "{home} 不是一个站点数据目录；请先运行 station init"
    en = "{home} is not a station data directory; run `station init` first"


class NotAStationDatabase(NotAStation):
    """An SQLite file named station.db that some other program made: never opened as a
    station, never replaced by ``init`` (not even with --force)."""

    code = "store.not_a_station_db"
    zh = ("{path} 是一个 SQLite 数据库，但不是站点的数据库；请把它移到别处，"
          "或用 --home 指定站点自己的数据目录")
    en = ("{path} is an SQLite database, but not a station's; move it elsewhere, or give "
          "--home the station's own data directory")


class DamagedStation(StoreError):
    """A station database with parts missing (a table dropped, the key slots or secrets
    deleted): saying so beats a wrong-passphrase message or an internal error later."""

    code = "store.damaged"
    zh = "站点数据库 {path} 已损坏（缺少 {missing}）；请从备份恢复，或联系镇便民服务中心"
    en = ("The station database {path} is damaged (missing {missing}); restore it from a "
          "backup or ask the town centre")


class CorruptDatabase(StoreError):
    code = "store.corrupt"
    zh = ("数据库文件 {path} 已损坏或不是 SQLite 文件（{detail_zh}），文件未做任何改动。"
          "请把站点最近的备份恢复到一个新文件夹（station restore 备份文件夹 --home 新文件夹），"
          "在那里同步一次，取回已经发送到镇中心的记录")
    en = ("The database file {path} is corrupt or not an SQLite file ({detail}), and was "
          "left as it was. Restore the station's latest backup into a new folder (station "
          "restore BACKUP --home NEW-FOLDER) and sync once there, to bring back what already "
          "reached the town centre")


class CannotWrite(StoreError):
    """The disk refuses (a read-only folder, a write-protected USB stick, file permissions):
    the data is fine, so the advice is about the disk, never to restore a backup."""

    code = "store.cannot_write"
    zh = "无法读写 {path}：请检查这个文件夹的权限，或 U 盘是否打开了写保护；数据未做任何改动"
    en = ("Cannot read or write {path}: check the folder's permissions, or whether the USB "
          "stick is write-protected; nothing was changed")


class ForeignWal(StoreError):
    """A -wal file beside station.db that another station wrote (copied in with a folder of
    its files): SQLite would replay its pages into this station's file, and the first
    writing connection to close would keep them there for good."""

    code = "store.foreign_wal"
    zh = ("站点数据库旁边的 {wal} 属于另一个站点（可能是和别的文件一起复制进来的），站点没有打开，"
          "也没有做任何改动；请把这个文件移出该文件夹（先保留它：里面可能有那个站点最近保存的数据），"
          "然后重新打开")
    en = ("The file {wal} beside the station database belongs to another station (copied in "
          "with other files?), so the station was not opened and nothing was changed; move "
          "that file out of the folder (keep it: it may hold that station's newest saves), "
          "then open the station again")


class WalMissing(StoreError):
    """The -wal file, which holds the newest saves until SQLite copies them into station.db,
    was deleted or cut short while the station was closed (after a crash): opening would
    show the station without those saves as if nothing were wrong."""

    code = "store.wal_missing"
    zh = ("站点最近保存的数据在 {wal} 里，这个文件不见了或被截短了，站点没有打开，"
          "也没有做任何改动。"
          "请把它放回原处（看看回收站，或刚才复制、移动过的地方）后重新打开；如果找不回来，"
          "请从备份恢复（station restore），或把 {shm} 移出该文件夹，用数据库里已有的数据打开，"
          "再同步一次，取回已经发送到镇中心的记录")
    en = ("The newest saves of this station are in {wal}, which is missing or cut short, so "
          "the station was not opened and nothing was changed. Put that file back (look in "
          "the recycle bin, or where files were just copied or moved) and open the station "
          "again; if it cannot be found, restore a backup (station restore), or move {shm} out "
          "of the folder to open the station with what its database holds, then sync once to "
          "bring back what already reached the town centre")


class TransportKeyDamaged(StoreError):
    """The key that signs sync requests is missing or garbled: the records are fine, only
    syncing needs the file back (a backup holds it) or a new enrollment."""

    code = "store.transport_key"
    zh = ("同步密钥文件 {path} 丢失或已损坏，站点无法同步（记录本身完好）；请从站点最近一次备份"
          "（station backup 生成的文件夹）中把 transport.key 复制回 {home}，"
          "或请镇便民服务中心重新发放登记码后运行 station enroll")
    en = ("The sync key file {path} is missing or damaged, so the station cannot sync (its "
          "records are fine); copy transport.key from the station's latest backup (the "
          "folder `station backup` made) back into {home}, or ask the town centre for a new "
          "enrollment code and run `station enroll`")


class DiskFull(StoreError):
    """The disk holding the station has no room left: the data is fine and the write was
    rolled back, so the advice is to free space, never to restore a backup (which would
    bring back an older station)."""

    code = "store.disk_full"
    zh = ("存放 {path} 的磁盘已满，站点无法写入，这次没有做任何改动；之前保存的数据完好无损。"
          "请在这个磁盘上腾出空间（清空回收站，把视频等大文件移到别处）后再试")
    en = ("The disk holding {path} is full, so the station cannot write to it and nothing "
          "was changed this time; everything saved before is intact. Free some space on that "
          "disk (empty the recycle bin, move large files such as videos elsewhere), then try "
          "again")


class NotABackup(StoreError):
    code = "store.not_a_backup"
    zh = "{path} 不是 station 的备份：备份是 station backup 生成的文件夹，里面有 station.db"
    en = ("{path} is not a station backup: a backup is the folder `station backup` made, "
          "with station.db in it")


class DamagedBackup(StoreError):
    """The copy in a backup folder does not open as a station (cut short on the stick, or
    damaged): said of the backup, since the agent is restoring it, not of the temporary
    file the restore was checking."""

    code = "store.damaged_backup"
    zh = ("备份里的 {path} 已损坏或只复制了一部分，什么也没有恢复；"
          "请从 U 盘重新复制整个备份文件夹，或改用更早的一个备份")
    en = ("The backup's {path} is damaged or was copied only in part, so nothing was restored; "
          "copy the whole backup folder from the stick again, or use an older backup")


class BackupFailed(StoreError):
    code = "store.backup_failed"
    zh = "无法在 {path} 写入备份：{detail_zh}；站点本身没有任何改动，也没有留下半个备份"
    en = ("Cannot write the backup in {path}: {detail}; the station itself was not changed and "
          "no partial backup was left")


class RestoreFailed(StoreError):
    code = "store.restore_failed"
    zh = "无法恢复到 {path}：{detail_zh}；没有留下半个站点"
    en = "Cannot restore into {path}: {detail}; no partial station was left"


class RestoreOverStation(StoreError):
    """A restore never replaces a station: its unsent work would go, and a stale -wal file
    beside the replaced database would be replayed into the restored one."""

    code = "store.restore_over_station"
    zh = ("{home} 已有站点 {station}，没有覆盖它；请恢复到一个新的文件夹（例如 --home 新文件夹），"
          "或先把现有站点移走")
    en = ("{home} already holds station {station}, which was left as it is; restore into a "
          "new folder (for example --home NEW-FOLDER), or move the existing station away first")


class NewerSchema(StoreError):
    code = "store.newer_schema"
    zh = "数据库由更新版本的 station 创建（{detail_zh}）；请升级本程序，数据未做任何改动"
    en = ("The database was made by a newer version of station ({detail}); upgrade this "
          "program. Nothing was changed")


class StationExists(StoreError):
    code = "store.exists"
    zh = "{home} 已有站点 {station}；如确需重建请加 --force（未发送的数据会先被拒绝）"
    en = ("{home} already holds station {station}; add --force to replace it (it refuses "
          "while unsent work remains)")


class UnsentWork(StoreError):
    code = "store.unsent"
    zh = "还有 {count} 条变更尚未发送到镇中心；请先同步，或用 station bundle export 导出后再重建"
    en = ("{changes} not reached the town centre yet; sync first, or export them "
          "with `station bundle export` before replacing this station")


class NoSuchRecord(StoreError):
    code = "store.no_record"
    zh = "没有编号为 {ref} 的记录"
    en = "There is no record {ref}"


class AmbiguousReceipt(StoreError):
    code = "store.ambiguous_receipt"
    zh = "有多条记录使用编号 {ref}（站点重装后编号重复）；请改用记录 ID：{ids}"
    en = ("Several records carry receipt no. {ref} (numbers reused after a reinstall); use a "
          "record id instead: {ids}")


class NoSuchConflict(StoreError):
    code = "store.no_conflict"
    zh = "没有待处理的冲突 {ref}（可能已在别处解决）"
    en = "There is no open conflict {ref} (it may have been settled elsewhere)"


class NoSuchValue(StoreError):
    code = "store.no_value"
    zh = ("冲突 {ref} 中没有标记为 {tag} 的值（可能已在别处解决，或标记输错）；"
          "请重新查看（station conflicts），按列出的标记或序号选择")
    en = ("Conflict {ref} has no value marked {tag} (it may have been settled elsewhere, or "
          "the mark was mistyped): list it again (station conflicts) and pick by a mark or "
          "number shown")


class CentreSettles(StoreError):
    """Two decisions of the town centre disagree: only the centre may decide a case, so only
    its deciding again settles them; a station's pick would be refused everywhere."""

    code = "store.centre_settles"
    zh = ("冲突 {ref} 是镇便民服务中心对“{label_zh}”作出的两个不同决定，只能由镇中心重新决定"
          "（办结或退回）来解决；请联系镇中心，村站这里无需也无法选择")
    en = ("Conflict {ref} is two different decisions of the town centre on “{label_en}”: only "
          "the town centre settles it, by deciding the case again (completed or returned); "
          "ask the centre, there is nothing to choose here")


class SettleChoice(StoreError):
    code = "store.settle_choice"
    zh = ("请选择其中一个值（--pick 序号），或输入新值（--value），二者选一；"
          "状态冲突只能选办结或退回")
    en = ("Pick one of the listed values (--pick N) or enter a new one (--value), not both; "
          "a status conflict settles on completed or returned")


class ConflictChanged(StoreError):
    """A settlement names the values it supersedes: if they are no longer the ones the person
    chose among (another value arrived, or it was settled elsewhere meanwhile), saving it
    would bury a value nobody saw, or keep a value nobody chose."""

    code = "store.conflict_changed"
    zh = ("冲突 {ref} 在您查看之后有了变化（又来了新的值，或已在别处解决），这次没有保存；"
          "请重新查看各个值再选择")
    en = ("Conflict {ref} changed after you looked at it (another value arrived, or it was "
          "settled elsewhere); nothing was saved: look at its values again and choose")


class Busy(StoreError):
    code = "store.busy"
    zh = "数据库正被另一个程序使用，请稍后再试"
    en = "The database is in use by another program; try again in a moment"


class FileGone(StoreError):
    """The file this connection opened is no longer at its path (deleted, or replaced by
    another ``station init --force`` or a copy): what is written now would go to a file
    nobody can open again, so it is refused instead of said to be saved."""

    code = "store.file_gone"
    zh = ("站点数据库 {path} 在程序打开期间被删除或换成了别的文件，这次的修改没有保存；"
          "请退出程序，把原来的文件放回（或从备份恢复）后再打开")
    en = ("The station database {path} was deleted or replaced by another file while the "
          "app had it open, so this change was not saved; quit, put the file back (or restore "
          "a backup), and open the station again")


class VaultError(StoreError):
    code = "vault.error"
    zh = "密钥库出错：{detail_zh}"
    en = "Vault problem: {detail}"


class WrongPassphrase(VaultError):
    code = "vault.wrong_passphrase"
    zh = "口令不正确，未做任何更改"
    en = "Wrong passphrase. Nothing was changed"


class WeakPassphrase(VaultError):
    code = "vault.weak_passphrase"
    zh = "口令至少需要 {min} 个字符"
    en = "A passphrase needs at least {min} characters"


class BadRecoveryKey(VaultError):
    code = "vault.bad_recovery_key"
    zh = "恢复密钥不正确：请核对每一组字符（{detail_zh}）"
    en = "That recovery key does not open this station: check each group ({detail})"


class UnknownAgent(VaultError):
    code = "vault.unknown_agent"
    zh = "没有名为“{agent}”的代办员口令"
    en = "There is no key slot for an agent named “{agent}”"


class AgentExists(VaultError):
    code = "vault.agent_exists"
    zh = "代办员“{agent}”已有口令；修改口令请用 station agent passwd"
    en = "Agent “{agent}” already has a key slot; use `station agent passwd` to change it"


class ReservedAgent(VaultError):
    """Slots are keyed by name: an agent called like the recovery slot would replace it
    (the recovery key lost for good) or be replaced by it (nobody can unlock)."""

    code = "vault.reserved_agent"
    zh = "“{agent}”是恢复密钥自己的名称，不能用作代办员姓名；请换一个名字"
    en = "“{agent}” is the name of the recovery key's own slot; give the agent another name"


class LastSlot(VaultError):
    code = "vault.last_slot"
    zh = "不能删除最后一个代办员的口令，否则将无人能打开数据"
    en = "Cannot remove the last agent's key slot: nobody could open the data"


class OwnSlot(VaultError):
    """The agent at the keyboard removing the slot they unlocked with would be out of the
    station the moment the command ends, often by a slip of the name."""

    code = "vault.own_slot"
    zh = ("不能删除您自己的口令（本次正是用它打开的站点），否则您将无法再打开数据；"
          "请由另一位代办员用其口令删除。未做任何更改")
    en = ("You cannot remove your own key slot, the one this station was opened with: you "
          "could no longer open it. Another agent removes it with their passphrase. Nothing "
          "was changed")


class DamagedSlot(VaultError):
    """A slot's Argon2id cost that station never makes (lowered to speed up guessing,
    raised to exhaust memory, or garbled): never used, and never called a wrong passphrase,
    which would send the agent retyping a right one."""

    code = "vault.damaged_slot"
    zh = ("代办员“{agent}”的口令槽已损坏或被改动（其中的密钥派生参数不是本程序生成的），"
          "未被使用；请用恢复密钥（station recover）为该代办员重设口令。未做任何更改")
    en = ("The key slot of agent “{agent}” is damaged or was altered (its key-derivation cost "
          "is not one station makes) and was not used; set a new passphrase for that agent "
          "with the recovery key (station recover). Nothing was changed")


class Tampered(VaultError):
    code = "vault.tampered"
    zh = "记录 {row} 的密文校验失败（被篡改或损坏），已跳过；其他记录不受影响"
    en = ("The ciphertext of {row} failed authentication (tampered or damaged) and was not "
          "used; other records are unaffected")


class NotAFile(StoreError):
    """An atomic write renames its finished copy over the target: over a device (as root),
    a folder or a link that would destroy it rather than write into it."""

    code = "store.not_a_file"
    zh = "{path} 已存在，但不是普通文件（而是设备、文件夹或链接），没有覆盖它；请换一个文件名"
    en = ("{path} exists but is not an ordinary file (it is a device, a folder or a link), so "
          "it was left alone; choose another file name")


def refuse_nul(path: Path) -> None:
    """An ``OSError`` (EINVAL) for a path holding a NUL (pasted in from somewhere): the OS
    refuses one with ``ValueError``, which no caller would tell in words, where every caller
    already tells an ``OSError`` ("the path holds a character no file name can")."""
    if "\x00" in str(path):
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))


def refuse_non_file(path: Path) -> None:
    """``NotAFile`` unless ``path`` is missing or an ordinary file (an ``OSError`` when it
    cannot even be looked at: the caller's own error says so)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise NotAFile(path=str(path))


class OverStationFile(StoreError):
    """A file the station writes on a person's say (an export, a USB bundle, a saved notice)
    named one of the station's own files: replacing it would lose the vault."""

    code = "store.station_file"
    zh = ("{path} 是站点自己的文件（数据库、密钥等），写到这里会覆盖它、丢失其中的全部记录；"
          "没有写入，请换一个文件名或文件夹")
    en = ("{path} is one of the station's own files (its database, keys…): writing there "
          "would replace it and lose every record in it, so nothing was written; choose "
          "another file name or folder")


SQLITE_MAGIC = b"SQLite format 3\x00"


def refuse_station_file(path: Path, home: Path,
                        refusal: type[OverStationFile] = OverStationFile) -> None:
    """Refuse to replace a file of the station's home folder itself (station.db, its
    journal, its keys, an archived vault), or any SQLite database anywhere (another
    station's, the centre's): a mistyped path must never swap a vault for a spreadsheet,
    a bundle or a notice. The folders the station writes its own outputs into (notices/,
    bundles/) and any other file are replaced as asked, so saving again works."""
    try:
        if not path.is_file():
            return
        own = path.resolve().parent == home.resolve()
        with path.open("rb") as fh:
            database = fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return  # the write itself says why it cannot be done
    if own or database:
        raise refusal(path=str(path))
