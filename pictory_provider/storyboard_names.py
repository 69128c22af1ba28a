"""The names a storyboard uses, checked against the account's lookups before a paid render.

Pictory accepts a storyboard whose voice ``speaker`` does not exist and fails the render later
(``TEXT_TO_VIDEO_FAILED: The AI voice speaker [Timm] is invalid``). :func:`names_used` lists the
names and ids a storyboard refers to (pure); :func:`check_names` reads the lookups those need (one
read per lookup, cached by the caller) and refuses a miss with the closest names before anything is
bought. A lookup that cannot be read is a warning, never a refusal.

How Pictory compares names is not documented: they are compared exactly, case included, and
suggested case-insensitively (*inferred*).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from pictory_provider.exceptions import PictoryError, PictoryValidationError

__all__ = ["NAME_KINDS", "NameKind", "NameUse", "check_names", "names_used"]

log = logging.getLogger(__name__)

#: Names listed in a refusal when none is close.
SHOWN_NAMES = 8


@dataclass(frozen=True)
class NameKind:
    """One kind of name: what it is called, the hook lookup that lists it and how to read its values."""

    what: str
    lookup: str
    values: Callable[[list[Any]], list[str]]


def _field(name: str) -> Callable[[list[Any]], list[str]]:
    return lambda records: [str(record[name]) for record in records]


def _looks(avatars: list[Any]) -> list[str]:
    return [str(look["id"]) for avatar in avatars for look in avatar["looks"]]


NAME_KINDS: dict[str, NameKind] = {
    "speaker": NameKind("voice speaker", "list_voices", _field("name")),
    "brandName": NameKind("brand", "list_brands", _field("name")),
    "brandId": NameKind("brand id", "list_brands", _field("id")),
    "subtitleStyleName": NameKind("subtitle style", "list_text_styles", _field("name")),
    "subtitleStyleId": NameKind("subtitle style id", "list_text_styles", _field("id")),
    "smartLayoutName": NameKind("smart layout", "list_smart_layouts", _field("templateName")),
    "smartLayoutId": NameKind("smart layout id", "list_smart_layouts", _field("templateId")),
    "templateId": NameKind("template id", "list_templates", _field("templateId")),
    "avatarId": NameKind("avatar id", "list_avatars", _looks),
}


@dataclass(frozen=True)
class NameUse:
    """A name in a storyboard: where (``scenes[1].subtitleStyleName``), its value and its kind."""

    where: str
    value: str
    kind: NameKind


def _voices(voice: object, where: str) -> Iterator[NameUse]:
    voices = voice.get("aiVoices") if isinstance(voice, dict) else None
    for index, item in enumerate(voices if isinstance(voices, list) else []):
        if isinstance(item, dict) and isinstance(item.get("speaker"), str):
            yield NameUse(f"{where}.aiVoices[{index}].speaker", item["speaker"], NAME_KINDS["speaker"])


def _named(obj: Mapping[str, Any], fields: tuple[str, ...], prefix: str) -> Iterator[NameUse]:
    for name in fields:
        if isinstance(obj.get(name), str):
            yield NameUse(prefix + name, obj[name], NAME_KINDS[name])
    avatar = obj.get("avatar")
    if isinstance(avatar, dict) and isinstance(avatar.get("avatarId"), str):
        yield NameUse(f"{prefix}avatar.avatarId", avatar["avatarId"], NAME_KINDS["avatarId"])


def names_used(body: Mapping[str, Any]) -> list[NameUse]:
    """Every looked-up name in a storyboard: voice speakers (storyboard and scenes), brand, subtitle
    style (storyboard and scenes), smart layout, template and avatar (a look's ``id``)."""
    top = ("brandName", "brandId", "subtitleStyleName", "subtitleStyleId", "smartLayoutName", "smartLayoutId")
    uses = [*_voices(body.get("voiceOver"), "voiceOver"), *_named(body, (*top, "templateId"), "")]
    scenes = body.get("scenes")
    for index, scene in enumerate(scenes if isinstance(scenes, list) else []):
        if isinstance(scene, dict):
            uses += _voices(scene.get("voiceOver"), f"scenes[{index}].voiceOver")
            uses += _named(scene, ("subtitleStyleName", "subtitleStyleId"), f"scenes[{index}].")
    return uses


def _closest(value: str, known: list[str]) -> list[str]:
    lowered: dict[str, str] = {}
    for name in known:
        lowered.setdefault(name.lower(), name)
    if value.lower() in lowered:
        return [lowered[value.lower()]]
    scores = {name: difflib.SequenceMatcher(None, value.lower(), name).ratio() for name in lowered}
    best = max(scores.values(), default=0.0)
    close = sorted((name for name, score in scores.items() if score >= max(0.6, best - 0.1)), key=scores.__getitem__)
    return [lowered[name] for name in reversed(close)][:3]  # the closest, and any about as close


def _avatar_hint(value: str, avatars: list[Any]) -> str:
    person = next((avatar for avatar in avatars if avatar["id"] == value), None)
    if person is None:
        return ""
    looks = ", ".join(str(look["id"]) for look in person["looks"])
    return f"; that is the avatar {person['name']}: send one of its looks' ids ({looks})"


def _miss(use: NameUse, records: list[Any]) -> str:
    known = use.kind.values(records)
    text = f"{use.where}: unknown {use.kind.what} {use.value!r}"
    close = _closest(use.value, known)
    if use.kind is NAME_KINDS["avatarId"] and (hint := _avatar_hint(use.value, records)):
        return text + hint
    if close and close[0].lower() == use.value.lower():
        return f"{text}: did you mean {close[0]}? (names are compared exactly, case included: inferred)"
    if close:
        return f"{text}: did you mean {' or '.join(close)}?"
    more = len(known) - SHOWN_NAMES
    shown = ", ".join(known[:SHOWN_NAMES]) + (f" and {more} more" if more > 0 else "")
    return f"{text}; the account has {shown or 'none'} (hook.{use.kind.lookup}())"


def check_names(
    body: Mapping[str, Any],
    read: Callable[[str], list[Any]],
    cache: MutableMapping[str, list[Any] | None],
) -> None:
    """Refuse (:class:`PictoryValidationError`, naming each field) a storyboard naming what the account's
    lookups do not hold. ``read(lookup)`` calls the hook's ``list_*`` method; ``cache`` keeps each
    lookup's records (``None``: unreadable) for the task. A failed read is logged as a warning."""
    errors: list[dict[str, str]] = []
    for use in names_used(body):
        lookup = use.kind.lookup
        if lookup not in cache:
            try:
                cache[lookup] = read(lookup)
            except PictoryError as exc:
                cache[lookup] = None
                log.warning(
                    "Could not read %s to check the storyboard's names (%s: %s); the render goes ahead unchecked",
                    lookup,
                    type(exc).__name__,
                    exc,
                )
        records = cache[lookup]
        if records is not None and use.value not in use.kind.values(records):
            errors.append({"name": use.where, "errors": _miss(use, records)})
    if errors:
        shown = "; ".join(error["errors"] for error in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise PictoryValidationError(
            f"The storyboard names what this Pictory account does not have: {shown}{more}; nothing was sent to "
            "Pictory (check_names=False skips this check)",
            errors,
        )
