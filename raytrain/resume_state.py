"""Before `tune --resume` starts Ray: is the state it resumes from whole?

A driver killed at the wrong moment, a full disk or a partial copy can leave a file cut
short. Each file the resume reads is checked here, in seconds and without Ray:

- `optuna.journal` (Optuna appends one JSON line per operation): a half-written *last*
  line is the one operation that was being written when the driver died; it is cut off
  (its bytes kept in `optuna.journal.damaged-tail`) and the study replays from the lines
  before. Left in place it would corrupt the journal: Optuna's next append would be glued
  to it. A bad line before the last is an error (what follows it cannot be trusted).
- Tune's newest `trials/experiment_state-*.json` (Tune rewrites it in place every few
  seconds, so a kill during the write truncates it): an error naming the file.
- `trials.csv` (replaced atomically by raytrain, so only damaged from outside): an
  error naming the file and line.

Errors are `InputError`s (exit 2) that name the file and say what to do; nothing in the
run directory is changed except the journal's cut-off tail.
"""

from __future__ import annotations

import csv
import json

from raytrain.errors import InputError, Problem
from raytrain.layout import SearchRunLayout

EXPERIMENT_STATE_GLOB = "experiment_state-*.json"  # Tune's TuneController.CKPT_FILE_TMPL
DAMAGED_TAIL_SUFFIX = ".damaged-tail"


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


def _experiment_state(layout: SearchRunLayout) -> None:
    states = sorted(layout.trials_dir.glob(EXPERIMENT_STATE_GLOB))
    if not states:
        return None
    newest = states[-1]  # the one Tune restores (it takes the largest name)
    try:
        state = json.loads(newest.read_text())
        if not isinstance(state, dict) or "trial_data" not in state:
            raise ValueError("no trial_data in it")
    except (OSError, ValueError) as exc:
        raise InputError(
            Problem(
                "",
                f"Tune's experiment state is damaged ({exc}); Tune rewrites it every few "
                "seconds, so the driver was probably killed while writing it. This run "
                "cannot be resumed: start a new one with --name (its trials' records and "
                "checkpoints stay here as they are).",
                file=str(newest),
            )
        ) from None
    return None


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
