"""Errors a user can act on. Every one is a `UserError`: the command lines catch that class
alone and print one line (exit 2). Imported without loading TensorFlow."""


class UserError(ValueError):
    """A mistake or a state the user can fix: bad options, bad data, a run directory in the way."""


class ConfigError(UserError):
    """Options that cannot start a run, or that differ from the run directory's."""


class DataError(UserError):
    """Data that is missing, unreadable or not digit images and labels."""


class SplitError(UserError):
    """A split or subset that the data cannot give."""


class SearchError(UserError):
    """The search cannot produce a model (every trial so far failed)."""


class RetrainError(UserError):
    """The retrain diverged or could not run."""


class RunDirInUse(UserError):
    """Another search holds the run directory."""


class CannotWrite(UserError):
    """A write failed for lack of space, for permission or on a read-only file system."""


# What the operating system says when a write cannot happen, whatever is written.
WRITE_ERRNOS = {"ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "EFBIG"}
WRITE_MESSAGES = ("No space left on device", "Disk quota exceeded", "Read-only file system", "Permission denied")


def cannot_write(error: BaseException) -> CannotWrite | None:
    """A CannotWrite naming the path and the cause, when `error` (or what caused it) is a failed write."""
    import errno
    import re

    seen = error
    while seen is not None:
        if isinstance(seen, OSError):
            name = errno.errorcode.get(seen.errno or 0)
            text = str(seen)
            if name in WRITE_ERRNOS or any(m in text for m in WRITE_MESSAGES):
                named = re.search(r"filename = '([^']+)'", text)  # h5py names the file only in its message
                where = seen.filename or (named.group(1) if named else "the run directory")
                cause = next((m for m in WRITE_MESSAGES if m in text), seen.strerror or text)
                return CannotWrite(
                    f"cannot write {where}: {cause}; what was written stays valid: free space (or fix the "
                    "permission) and run the same command again to resume"
                )
        seen = seen.__cause__ or seen.__context__
    return None
