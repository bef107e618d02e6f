"""Before `tune --resume` starts Ray: is the state it resumes from whole?

A driver killed at the wrong moment, a full disk or a partial copy can leave a file cut
short. Each file the resume reads is checked here, in seconds and without Ray:

- `optuna.journal` (Optuna appends one JSON line per operation): a half-written *last*
  line is the one operation that was being written when the driver died; it is cut off
  (its bytes kept in `optuna.journal.damaged-tail`) and the study replays from the lines
  before. Left in place it would corrupt the journal: Optuna's next append would be glued
  to it. A bad line before the last is an error (what follows it cannot be trusted).
- Tune's newest state files in `trials/` (`experiment_state-*.json`, the searcher's and the
  callbacks' state; Tune rewrites them in place every few seconds, so a kill or a full disk
  during the write cuts them short): the last whole copy that `StateBackup`
  (`raytrain.tune.state_backup`) kept in `trials/_state_backup/` is put back, the damaged
  files are kept aside (`*.damaged`), and the trials Tune started after that copy are redone
  like those a SIGKILL loses; without a whole copy, an error naming the file.
- `trials.csv` (replaced atomically by raytrain, so only damaged from outside): an
  error naming the file and line.

Errors are `InputError`s (exit 2) that name the file and say what to do; nothing in the
run directory is changed except the journal's cut-off tail.
"""

from __future__ import annotations

import csv
import json
import pickletools
import shutil
from collections import deque
from datetime import datetime
from pathlib import Path

from raytrain.errors import InputError, Problem
from raytrain.layout import SearchRunLayout

DAMAGED_TAIL_SUFFIX = ".damaged-tail"
DAMAGED_SUFFIX = ".damaged"

# Tune's state files (the CKPT_FILE_TMPL of TuneController, Searcher, SearchGenerator and
# CallbackList); Tune restores the newest of each kind by name (max over a glob).
EXPERIMENT_STATE_GLOB = "experiment_state-*.json"
STATE_GLOBS = (
    EXPERIMENT_STATE_GLOB,
    "searcher-state-*.pkl",
    "search_gen_state-*.json",
    "callback-states-*.pkl",
)
# The backup's copies end in `.bak`: on restore Tune downloads every `.json`/`.pkl` under its
# experiment folder into staging, and its next sync would copy them back over the backup.
BACKUP_SUFFIX = ".bak"


def check_resume_state(layout: SearchRunLayout) -> list[str]:
    """Notes about what was repaired; raise `InputError` for damage that cannot be."""
    notes: list[str] = []
    problems: list[Problem] = []
    for check in (_journal, _experiment_state, _trials_csv):
        try:
            note = check(layout)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if note:
            notes.append(note)
    if problems:
        raise InputError(problems)
    return notes


def _journal(layout: SearchRunLayout) -> str | None:
    path = layout.journal
    if not path.is_file():
        return None
    data = path.read_bytes()
    lines = data.split(b"\n")  # the piece after the last newline is b"" when whole
    tail = lines.pop()
    for number, line in enumerate(lines, start=1):
        try:
            json.loads(line)
        except ValueError:
            if number == len(lines) and not tail:  # a last line garbled in place
                tail, lines = line + b"\n", lines[:-1]
                break
            raise InputError(
                Problem(
                    "",
                    f"the Optuna journal is damaged at line {number} of {len(lines)}, not at "
                    "its end, so the study cannot be replayed. Restore optuna.journal from a "
                    "copy, or start a new run with --name (nothing here was changed).",
                    file=str(path),
                    line=number,
                )
            ) from None
    if not tail:
        return None
    keep = b"".join(line + b"\n" for line in lines)
    path.with_name(path.name + DAMAGED_TAIL_SUFFIX).write_bytes(tail)
    with path.open("r+b") as f:
        f.truncate(len(keep))
    return (
        f"note: {path} ended in a half-written entry (the driver was stopped while writing "
        f"it); cut off ({len(tail)} bytes, kept in {path.name}{DAMAGED_TAIL_SUFFIX}), the "
        f"study replays its {len(lines)} complete entries"
    )


def newest_state(folder: Path) -> list[Path]:
    """The newest file of each kind of Tune state in `folder`, the experiment state first
    (empty without one: nothing to restore from)."""
    found = [hit for glob in STATE_GLOBS if (hit := max(folder.glob(glob), default=None))]
    return found if found and found[0].match(EXPERIMENT_STATE_GLOB) else []


def state_damage(name: str, data: bytes) -> str | None:
    """Why the Tune state file `name` holding `data` cannot be restored from (None: whole).
    The experiment state is JSON; the others are pickles whatever their suffix (Tune's
    `_atomic_save` pickles `search_gen_state-*.json` too), walked opcode by opcode up to
    their STOP (`pickletools` runs nothing)."""
    try:
        if not name.startswith("experiment_state-"):
            deque(pickletools.genops(data), maxlen=0)  # raises where the pickle is cut
            return None
        state = json.loads(data)
    except ValueError as exc:
        return str(exc) or "cut short"
    return None if isinstance(state, dict) and "trial_data" in state else "no trial_data in it"


def backup_state(staging: Path, backup: Path) -> bool:
    """Copy the newest whole state set in `staging` to `backup`, replacing the old copy as a
    whole (written to `backup.new`, then renamed); False when there is none or it did not
    fit (ENOSPC): the previous copy stays."""
    new, old = _sibling(backup, ".new"), _sibling(backup, ".old")
    try:
        blobs = {path.name: path.read_bytes() for path in newest_state(staging)}
        if not blobs or any(state_damage(name, data) for name, data in blobs.items()):
            return False
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir(parents=True)
        for name, data in blobs.items():
            (new / (name + BACKUP_SUFFIX)).write_bytes(data)
        shutil.rmtree(old, ignore_errors=True)
        if backup.exists():
            backup.rename(old)  # a kill between the two renames leaves `.old`: still found
        new.rename(backup)
        shutil.rmtree(old, ignore_errors=True)
        return True
    except OSError:  # a full disk: stopping the search is DiskFullCallback's job
        shutil.rmtree(new, ignore_errors=True)
        return False


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _session(name: str) -> str:
    """Tune's session string (a sortable start time) in a state file's name."""
    name = name.removesuffix(BACKUP_SUFFIX)
    for glob in STATE_GLOBS:
        head, tail = glob.split("*")
        if name.startswith(head) and name.endswith(tail):
            return name[len(head) : len(name) - len(tail)]
    raise ValueError(f"not a Tune state file: {name}")


def _whole_backup(layout: SearchRunLayout) -> list[Path]:
    for folder in (layout.state_backup_dir, _sibling(layout.state_backup_dir, ".old")):
        files = sorted(folder.glob("*" + BACKUP_SUFFIX))
        try:
            whole = not any(state_damage(f.name, f.read_bytes()) for f in files)
        except OSError:
            continue
        if whole and any(f.name.startswith("experiment_state-") for f in files):
            return files
    return []


def _experiment_state(layout: SearchRunLayout) -> str | None:
    damaged: list[tuple[Path, str]] = []
    for path in newest_state(layout.trials_dir):
        try:
            why = state_damage(path.name, path.read_bytes())
        except OSError as exc:
            why = str(exc)
        if why:
            damaged.append((path, why))
    if not damaged:
        return None
    first, why = damaged[0]
    backup = _whole_backup(layout)
    if not backup:
        raise InputError(
            Problem(
                "",
                f"Tune's experiment state is damaged ({why}) and no whole copy of it is "
                f"in {layout.state_backup_dir}; Tune rewrites it every few seconds, so the "
                "driver was probably killed (or the disk filled) while it wrote. This run "
                "cannot be resumed: start a new one with --name (its trials' records and "
                "checkpoints stay here as they are).",
                file=str(first),
            )
        )
    # Tune takes the newest file of each kind: move aside every state file of the backup's
    # session or a later one, then put the backup's in their place.
    since = _session(backup[0].name)
    for glob in STATE_GLOBS:
        for path in layout.trials_dir.glob(glob):
            if _session(path.name) >= since:
                path.replace(_sibling(path, DAMAGED_SUFFIX))
    for copy in backup:
        shutil.copyfile(copy, layout.trials_dir / copy.name.removesuffix(BACKUP_SUFFIX))
    saved = datetime.fromtimestamp(backup[0].stat().st_mtime).strftime("%H:%M:%S")
    return (
        f"note: Tune's state file {first} was cut short ({why}); restored the last whole "
        f"copy of Tune's state (saved at {saved}) from {backup[0].parent}, the files it "
        f"replaces are kept as *{DAMAGED_SUFFIX}; trials started after that copy are redone"
    )


def _trials_csv(layout: SearchRunLayout) -> None:
    path = layout.trials_csv
    if not path.is_file():
        return None
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header or "trial_id" not in header:
                raise ValueError("no header row with trial_id")
            for row in reader:
                if len(row) != len(header):
                    raise ValueError(
                        f"line {reader.line_num} has {len(row)} cells, the header {len(header)}"
                    )
    except (OSError, ValueError, csv.Error, UnicodeDecodeError) as exc:
        raise InputError(
            Problem(
                "",
                f"the trial table is damaged ({exc}). raytrain replaces it atomically, so "
                "it was changed or cut short from outside: restore trials.csv from a copy "
                "(nothing here was changed).",
                file=str(path),
            )
        ) from None
    return None
