"""Run directories in object storage: `s3://bucket/prefix`, `gs://...`, any URI pyarrow opens.

A run directory is a tree of small files that raytrain reads and writes with local-file
semantics: the Optuna journal is appended under a lock file, trials.csv and the budget
ledger are replaced atomically, Tune writes its experiment state and the trials' checkpoints
under trials/. An object store has neither appends nor renames nor locks, so a run stored
in a bucket is driven from a local *working copy* of it (`RemoteDir.local`):

- `tune` and `train` work in the working copy; a `Mirror` thread uploads what changed every
  `sync_interval()` seconds (5 s; `RAYTRAIN_SYNC_INTERVAL_S`) and once more when the command
  ends, so a driver killed with SIGKILL loses at most that much. The files that name others
  go up after the files they name (`Mirror.push`); each round ends with the marker
  `_sync.json` (when, which driver, which files), and files the run deleted (checkpoints
  Tune pruned) are deleted from the bucket after it.
- `tune URI --resume` on any machine first makes the working copy equal to the bucket
  (`sync_down`), unless the working copy is the one that made the bucket's last upload.
- read-only commands (`status`, `analyze`, `export`, `dashboard`) download the run into a
  separate read cache without its checkpoints (`ReadCopy`), so they never touch the copy a
  driver on the same machine is writing, and upload only what they wrote (best.yaml, plots/).
- one driver at a time: the marker carries the driver's host and pid and a heartbeat; a
  second driver that finds a fresh one refuses (`check_not_driven`). Unlike `driver.lock`
  on a file system this is not atomic (object stores have no exclusive create that pyarrow
  exposes): two drivers started within one sync interval can both start.

Credentials come from the environment (`AWS_*`, `AWS_ENDPOINT_URL`, `GOOGLE_APPLICATION_
CREDENTIALS`, ...) through pyarrow's own resolution; raytrain never passes, prints or stores
a key. pyarrow is imported lazily (it is Ray's dependency; `validate` stays light).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from raytrain.errors import InputError, Problem, RunError
from raytrain.layout import CHECKPOINT_NAME, LOCK_NAME, SYNC_MARKER, SYNC_STATE, SearchRunLayout
from raytrain.runlock import pid_alive

SYNC_INTERVAL_S = 5.0
# a driver whose marker is older than this is gone (it refreshes the marker every interval)
_DRIVER_GONE_AFTER_S = 120.0


def is_remote(location: str | Path | None) -> bool:
    """A URI with a scheme other than `file`: stored in object storage."""
    text = str(location or "")
    return "://" in text and not text.startswith("file://")


def sync_interval() -> float:
    raw = os.environ.get("RAYTRAIN_SYNC_INTERVAL_S")
    try:
        value = float(raw) if raw else SYNC_INTERVAL_S
    except ValueError:
        raise InputError(
            Problem("RAYTRAIN_SYNC_INTERVAL_S", f"must be a number of seconds, not {raw!r}")
        ) from None
    return max(0.5, value)


def cache_root() -> Path:
    """Where working copies and read caches go (`RAYTRAIN_CACHE_DIR`, ~/.cache/raytrain)."""
    base = os.environ.get("RAYTRAIN_CACHE_DIR") or Path.home() / ".cache" / "raytrain"
    return Path(base)


def join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts)])


def _local_for(uri: str, kind: str) -> Path:
    """`<cache>/<kind>/<scheme>/<bucket>/<prefix>/<name>`: the run keeps its own name (the
    live view, trackers and the final train run are named after the folder)."""
    scheme, rest = uri.split("://", 1)
    parts = PurePosixPath(rest).parts
    if not parts or any(p in (".", "..") for p in parts) or parts[0] == "/":
        raise InputError(Problem("--storage", f"{uri}: expected {scheme}://bucket/prefix/name"))
    return cache_root() / kind / scheme / Path(*parts)


def _filesystem(uri: str) -> tuple[Any, str]:
    from pyarrow import fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError with its own text
        raise InputError(Problem("--storage", f"cannot open {uri}: {exc}")) from None


@dataclass(frozen=True)
class _Signature:
    size: int
    mtime_ns: int


def _walk(root: Path, keep: Callable[[str], bool] = lambda rel: True) -> dict[str, _Signature]:
    """Files under `root` worth uploading: not the locks, temp files or the sync state."""
    found: dict[str, _Signature] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(LOCK_NAME) or name.startswith(".") or name == SYNC_MARKER:
                continue
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if not keep(rel):
                continue
            with contextlib.suppress(FileNotFoundError):  # removed while we walk
                st = path.stat()
                found[rel] = _Signature(st.st_size, st.st_mtime_ns)
    return found


def _is_index(rel: str) -> bool:
    """A file that names others: the run's own top-level files (the journal, trials.csv,
    the ledger) and Tune's experiment state (`trials/*.json|pkl`), which name the trials'
    checkpoints. Everything else is a trial's own files (records, checkpoints)."""
    return rel.count("/") == 0 or (rel.startswith("trials/") and rel.count("/") == 1)


def _upload_order(rel: str) -> tuple[int, str]:
    """Among the index files: the study first, Tune's state next, the rest after. A copy
    cut off mid-round holds a journal at least as new as the trials Tune's state names,
    the direction `--resume` reconciles (raytrain.resume_state)."""
    if rel.endswith(".journal"):
        return (0, rel)
    if rel.startswith("trials/"):
        return (1, rel)
    return (2, rel)


@dataclass
class RemoteDir:
    """A run directory at `uri` and its local working copy."""

    uri: str
    local: Path
    _fs: Any = field(default=None, repr=False)
    _root: str = field(default="", repr=False)

    @classmethod
    def working_copy(cls, uri: str) -> RemoteDir:
        return cls(uri.rstrip("/"), _local_for(uri.rstrip("/"), "runs"))

    @classmethod
    def read_cache(cls, uri: str) -> RemoteDir:
        return cls(uri.rstrip("/"), _local_for(uri.rstrip("/"), "read"))

    def _open(self) -> tuple[Any, str]:
        if self._fs is None:
            self._fs, self._root = _filesystem(self.uri)
        return self._fs, self._root

    def _remote(self, rel: str) -> str:
        return f"{self._open()[1].rstrip('/')}/{rel}"

    def uri_of(self, path: Path | str) -> str:
        """The object URI of a path inside the working copy (or the path when outside)."""
        try:
            rel = Path(path).resolve().relative_to(self.local.resolve())
        except ValueError:
            return str(path)
        return join(self.uri, rel.as_posix()) if rel.parts else self.uri

    # ------------------------------------------------------------------ listing
    def listing(self) -> dict[str, Any]:
        """Every file under the URI (relative posix path -> pyarrow FileInfo)."""
        from pyarrow import fs as pafs

        fs, root = self._open()
        try:
            infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        except OSError as exc:
            raise RunError(f"cannot list {self.uri}: {exc}") from None
        prefix = root.rstrip("/") + "/"
        return {
            info.path[len(prefix) :]: info
            for info in infos
            if info.type == pafs.FileType.File and info.path.startswith(prefix)
        }

    def exists(self) -> bool:
        """Whether a run is there (a marker alone is a driver that stopped before writing)."""
        return any(rel != SYNC_MARKER for rel in self.listing())

    def read_marker(self) -> dict[str, Any] | None:
        fs, _ = self._open()
        try:
            with fs.open_input_stream(self._remote(SYNC_MARKER)) as f:
                data = json.loads(f.read().decode())
        except (FileNotFoundError, OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    # ------------------------------------------------------------------ transfers
    def download(self, rel: str, to: Path) -> None:
        fs, _ = self._open()
        to.parent.mkdir(parents=True, exist_ok=True)
        tmp = to.with_name(f".{to.name}.part")
        with fs.open_input_stream(self._remote(rel)) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        tmp.replace(to)

    def upload(self, path: Path, rel: str) -> bool:
        """Upload one file; False when it changed while being read (the next round retries)."""
        fs, _ = self._open()
        before = path.stat()
        with open(path, "rb") as src, fs.open_output_stream(self._remote(rel)) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        after = path.stat()
        return (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)

    def upload_bytes(self, data: bytes, rel: str) -> None:
        fs, _ = self._open()
        with fs.open_output_stream(self._remote(rel)) as dst:
            dst.write(data)

    def delete(self, rels: Iterable[str]) -> None:
        fs, _ = self._open()
        for rel in rels:
            with contextlib.suppress(FileNotFoundError, OSError):
                fs.delete_file(self._remote(rel))

    def write_marker(self, marker: dict[str, Any]) -> None:
        fs, _ = self._open()
        with fs.open_output_stream(self._remote(SYNC_MARKER)) as dst:
            dst.write(json.dumps(marker, indent=1).encode())


# ---------------------------------------------------------------------- the working copy
def _load_state(local: Path) -> dict[str, Any]:
    try:
        data = json.loads((local / SYNC_STATE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_state(local: Path, state: dict[str, Any]) -> None:
    local.mkdir(parents=True, exist_ok=True)
    tmp = local / f"{SYNC_STATE}.tmp"
    tmp.write_text(json.dumps(state))
    tmp.replace(local / SYNC_STATE)


def _mirror_down(
    remote: RemoteDir, keep: Callable[[str], bool], *, delete_extra: bool
) -> dict[str, _Signature]:
    """Make the local copy hold the bucket's files (`keep`-filtered); unchanged files (same
    size, local copy not older) are not downloaded again."""
    listing = remote.listing()
    wanted = {rel: info for rel, info in listing.items() if rel != SYNC_MARKER and keep(rel)}
    for rel, info in sorted(wanted.items(), key=lambda kv: _upload_order(kv[0])):
        target = remote.local / rel
        with contextlib.suppress(FileNotFoundError):
            st = target.stat()
            newer = info.mtime is None or st.st_mtime >= info.mtime.timestamp()
            if st.st_size == info.size and newer:
                continue
        remote.download(rel, target)
    if delete_extra:
        for rel in set(_walk(remote.local)) - set(wanted):
            if keep(rel):
                (remote.local / rel).unlink(missing_ok=True)
    return {rel: sig for rel, sig in _walk(remote.local).items() if rel in wanted}


def sync_down(remote: RemoteDir) -> bool:
    """Make the working copy the bucket's run before a driver continues it. Returns whether
    anything was downloaded. A working copy that made the bucket's last upload is newer than
    the bucket (it may hold changes the driver had no time to upload) and is kept."""
    try:
        return _sync_down(remote)
    except OSError as exc:
        raise RunError(f"cannot download {remote.uri}: {exc}") from None


def _sync_down(remote: RemoteDir) -> bool:
    marker = remote.read_marker()
    state = _load_state(remote.local)
    if marker is not None and state.get("marker") == marker.get("round"):
        return False
    if not remote.exists():
        return False
    pulled = _mirror_down(remote, lambda rel: True, delete_extra=True)
    _save_state(
        remote.local,
        {"uri": remote.uri, "marker": (marker or {}).get("round"), "files": _sigs_to_json(pulled)},
    )
    return True


def _sigs_to_json(sigs: dict[str, _Signature]) -> dict[str, list[int]]:
    return {rel: [s.size, s.mtime_ns] for rel, s in sigs.items()}


def _sigs_from_json(data: Any) -> dict[str, _Signature]:
    if not isinstance(data, dict):
        return {}
    return {
        str(rel): _Signature(int(v[0]), int(v[1]))
        for rel, v in data.items()
        if isinstance(v, list) and len(v) == 2
    }


def continue_run(remote: RemoteDir, *, check_driver: bool = True) -> bool:
    """Before a driver goes on with a bucket run: refuse if another one drives it
    (`check_not_driven`, skipped for a dry run, which writes nothing), then make the working
    copy current (`sync_down`); returns whether anything was downloaded."""
    if check_driver:
        check_not_driven(remote)
    return sync_down(remote)


def check_not_driven(remote: RemoteDir, now: float | None = None) -> None:
    """Refuse when another driver uploaded to this run within `_DRIVER_GONE_AFTER_S` and
    has not said it ended (the bucket's counterpart of `driver.lock`). On the same host
    the driver's pid tells at once (as `raytrain.runlock` does); from another host only
    the age of its last upload can."""
    marker = remote.read_marker()
    if not marker or not marker.get("driving"):
        return
    host, pid = marker.get("host"), marker.get("pid")
    if host == socket.gethostname() and (pid == os.getpid() or not pid_alive(int(pid or 0))):
        return  # this process, or a driver on this host that is gone
    age = (now or time.time()) - float(marker.get("time", 0))
    if age > _DRIVER_GONE_AFTER_S:
        return
    raise InputError(
        Problem(
            "--resume",
            f"{remote.uri} is being driven by pid {marker.get('pid')} on "
            f"{marker.get('host')} (it uploaded {age:.0f} s ago). Wait for it to end, or "
            f"stop it; a driver that died frees the run {_DRIVER_GONE_AFTER_S:.0f} s after "
            "its last upload.",
        )
    )


class Mirror:
    """Upload the working copy's changes to the bucket from a thread while a driver runs.

    `with Mirror(remote): ...` uploads every `interval` seconds and once more on the way
    out (normal end, error, Ctrl-C, SIGTERM); the last marker says the driver ended."""

    def __init__(self, remote: RemoteDir, interval: float | None = None) -> None:
        self.remote = remote
        self.interval = sync_interval() if interval is None else interval
        state = _load_state(remote.local)
        self._pushed = _sigs_from_json(state.get("files"))
        self._round = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def push(self, *, driving: bool = True) -> int:
        """One upload round; returns the number of files uploaded.

        The index files (`_is_index`) are read first and uploaded last, after the trials'
        own files as they were at that moment or later: Tune's state and trials.csv in the
        bucket then only name checkpoints that are there whole. (Uploaded in walk order, a
        driver killed mid-round left a state naming a checkpoint not yet uploaded, and the
        resumed trial failed to restore: seen in 1 of 7 runs of the bucket e2e test.)"""
        with self._lock:
            local = self.remote.local
            index = _walk(local, _is_index)
            snapshot: dict[str, tuple[bytes, bool]] = {}
            for rel, sig in index.items():
                if self._pushed.get(rel) == sig:
                    continue
                try:
                    data = (local / rel).read_bytes()
                    after = (local / rel).stat()
                except FileNotFoundError:  # deleted since the walk: the next round sees it
                    continue
                # changed while read: uploaded as read, and again next round
                snapshot[rel] = (
                    data,
                    _Signature(after.st_size, after.st_mtime_ns) == sig,
                )
            current = {**_walk(local, lambda rel: not _is_index(rel)), **index}
            done = 0
            for rel in sorted(r for r in current if not _is_index(r)):
                if self._pushed.get(rel) == current[rel]:
                    continue
                try:
                    if self.remote.upload(local / rel, rel):
                        self._pushed[rel] = current[rel]
                    done += 1
                except FileNotFoundError:
                    current.pop(rel, None)
            for rel in sorted(snapshot, key=_upload_order):
                data, whole = snapshot[rel]
                self.remote.upload_bytes(data, rel)
                if whole:
                    self._pushed[rel] = index[rel]
                done += 1
            self._round += 1
            round_id = f"{socket.gethostname()}:{os.getpid()}:{time.time():.3f}:{self._round}"
            self.remote.write_marker(
                {
                    "round": round_id,
                    "time": time.time(),
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "driving": driving,
                    "files": len(current),
                }
            )
            gone = set(self._pushed) - set(current)
            self.remote.delete(sorted(gone))
            for rel in gone:
                self._pushed.pop(rel, None)
            _save_state(
                local,
                {"uri": self.remote.uri, "marker": round_id, "files": _sigs_to_json(self._pushed)},
            )
            return done

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.push()
                self.error = None
            except Exception as exc:  # a flaky network: say so once, keep the run going
                if self.error is None:
                    print(f"warning: uploading to {self.remote.uri} failed: {exc}", flush=True)
                self.error = str(exc)

    def __enter__(self) -> Mirror:
        try:  # fails early (bad credentials, no bucket) before any work starts
            self.push()
        except OSError as exc:
            raise RunError(f"cannot upload to {self.remote.uri}: {exc}") from None
        self._thread = threading.Thread(target=self._loop, name="raytrain-mirror", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 60)
        try:
            self.push(driving=False)
        except Exception as err:
            print(
                f"warning: the last upload to {self.remote.uri} failed ({err}); the run is "
                f"complete in {self.remote.local}: run the same command with --resume there "
                "later to upload it",
                flush=True,
            )


# ---------------------------------------------------------------------- read-only commands
def _not_checkpoint(rel: str) -> bool:
    return not rel.endswith(".ckpt") and f"/{CHECKPOINT_NAME}" not in rel


@dataclass
class ReadCopy:
    """A run in the bucket downloaded for reading (no checkpoints); `publish` uploads the
    files a command wrote into it (best.yaml, plots/)."""

    remote: RemoteDir

    @property
    def path(self) -> Path:
        return self.remote.local

    def refresh(self) -> None:
        if not self.remote.exists():
            raise InputError(Problem("RUN_DIR", f"no run at {self.remote.uri} (nothing there)"))
        try:
            _mirror_down(self.remote, _not_checkpoint, delete_extra=True)
        except OSError as exc:
            raise RunError(f"cannot download {self.remote.uri}: {exc}") from None
        _save_state(self.path, {"uri": self.remote.uri, "read_only": True})

    def publish(self, paths: Iterable[Path]) -> list[str]:
        try:
            return self._publish(paths)
        except OSError as exc:
            raise RunError(f"cannot upload to {self.remote.uri}: {exc}") from None

    def _publish(self, paths: Iterable[Path]) -> list[str]:
        uploaded = []
        for path in paths:
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for f in files:
                rel = f.resolve().relative_to(self.path.resolve()).as_posix()
                self.remote.upload(f, rel)
                uploaded.append(join(self.remote.uri, rel))
        return uploaded


def remote_of(run_dir: Path | str) -> RemoteDir | None:
    """The bucket a local working copy or read cache belongs to (None for a plain run)."""
    uri = _load_state(Path(run_dir)).get("uri")
    if not isinstance(uri, str) or not is_remote(uri):
        return None
    return RemoteDir(uri, Path(run_dir))


def uri_of(path: Path | str, run_dir: Path | str) -> str:
    """`path` of a run as the object URI when the run lives in a bucket. A checkpoint path
    recorded by a driver on another machine (its working copy elsewhere) maps by its part
    from `trials/` on, the folder every trial's checkpoints sit in."""
    remote = remote_of(run_dir)
    if remote is None:
        return str(path)
    mapped = remote.uri_of(path)
    if mapped != str(path):
        return mapped
    marker = f"/{SearchRunLayout.TRIALS_DIRNAME}/"
    text = Path(path).as_posix()
    cut = text.rfind(marker)
    return join(remote.uri, text[cut + 1 :]) if cut >= 0 else str(path)


def open_run(location: str | Path) -> tuple[Path, ReadCopy | None]:
    """A RUN_DIR argument -> a local directory to read (downloaded when it is a URI)."""
    if not is_remote(location):
        return Path(location), None
    copy = ReadCopy(RemoteDir.read_cache(str(location)))
    copy.refresh()
    return copy.path, copy


@contextlib.contextmanager
def mirrored(location: str | Path | None) -> Iterator[RemoteDir | None]:
    """Run a driver in the working copy of `location` (a URI), uploading as it goes;
    nothing for a local path."""
    if not is_remote(location):
        yield None
        return
    remote = RemoteDir.working_copy(str(location))
    with Mirror(remote):
        yield remote
