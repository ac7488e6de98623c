"""A JSON file someone hands in, read or refused in one bilingual line naming the file
and what is wrong with it: missing, a folder, empty, too large, not UTF-8 (an editor on
Chinese Windows may save GBK), not JSON (with the line and column), or nested beyond
what any of our formats needs. Never a traceback from the decoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qinglu.core.errors import InvalidInput

MAX_JSON_BYTES = 64 << 20  # a CADT export of a large registry stays well under this


class UnreadableFile(InvalidInput):
    code = "unreadable-file"


def read_json(path: Path, limit: int = MAX_JSON_BYTES) -> Any:
    """The JSON value of a file (UTF-8, a BOM allowed)."""
    name = path.name
    try:
        if path.is_dir():
            raise UnreadableFile(f"{name} 是文件夹，不是文件", f"{name} is a folder, not a file")
        size = path.stat().st_size
        if size > limit:
            raise UnreadableFile(f"{name} 过大（{size >> 20} MiB，上限 {limit >> 20} MiB）",
                                 f"{name} is too large ({size >> 20} MiB, limit "
                                 f"{limit >> 20} MiB)")
        content = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFile(f"{name} 不存在", f"{name} does not exist") from None
    except OSError as exc:
        raise UnreadableFile(f"{name} 无法读取：{exc.strerror}",
                             f"{name} cannot be read: {exc.strerror}") from None
    return json_content(content, name)


def json_content(content: bytes, name: str) -> Any:
    """The JSON value of a file's bytes; `name` is the file's, for the refusal."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{name} 不是 UTF-8 文本（第 {exc.start + 1} 字节）；请另存为 UTF-8",
            f"{name} is not UTF-8 text (byte {exc.start + 1}); save it as UTF-8") from None
    if not text.strip():
        raise UnreadableFile(f"{name} 是空文件", f"{name} is empty")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"{name} 不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）",
            f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})") from None
    except RecursionError:
        raise UnreadableFile(f"{name} 嵌套过深，不是可用的 JSON",
                             f"{name} nests too deeply to be a usable JSON file") from None
    if value is None:
        raise UnreadableFile(f"{name} 只有 null，没有数据", f"{name} holds only null, no data")
    return value
