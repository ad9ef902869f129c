"""A batch script runs as it was when it was submitted, as sbatch runs the copy it keeps.

``aitc submit job.sh`` sends the script's text with the job (``JobSpec.script``). When an
attempt starts, the job's command (``[*interpreter, script path, *args]``) is run through a
small POSIX shell launcher instead: it writes the text it finds in ``AITC_BATCH_SCRIPT`` to a
private temporary file of the job's own account, opens it as file descriptor 9, removes it,
drops the variable and execs the interpreter on ``/dev/fd/9`` with the script's arguments. The
same launcher serves both executors (a local attempt, and each task of a Slurm step, on every
node), and nothing is written where a member could swap it: the file exists, empty of anyone
else's rights (``mktemp``: mode 0600), only between the job's first two instructions. Editing,
moving or deleting ``job.sh`` after ``aitc submit`` changes nothing; inside the job ``$0`` is
``/dev/fd/9``, as under Slurm it is a copy in slurmd's spool (find the files beside the script
from the working directory, which is the submit directory unless ``--chdir`` says otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence

SCRIPT_ENV = "AITC_BATCH_SCRIPT"
# The launcher hands the text over in one environment variable, and Linux caps each one at
# 128 KiB (MAX_ARG_STRLEN): half of that leaves room for the rest of the job's environment.
MAX_SCRIPT_BYTES = 64 * 1024
FD = 9
_LAUNCHER = f"""\
k=$1; shift
t=$(mktemp "${{TMPDIR:-/tmp}}/aitc-batch.XXXXXX") || exit 125
if ! printf '%s' "${SCRIPT_ENV}" > "$t"; then rm -f "$t"; exit 125; fi
exec {FD}< "$t"
rm -f "$t"
unset {SCRIPT_ENV}
n=$#; i=0
while [ "$i" -lt "$n" ]; do
  if [ "$i" -eq "$k" ]; then set -- "$@" /dev/fd/{FD}; fi
  set -- "$@" "$1"; shift; i=$((i + 1))
done
if [ "$k" -ge "$n" ]; then set -- "$@" /dev/fd/{FD}; fi
exec "$@"
"""


def launched(command: Sequence[str], path: str, text: str) -> tuple[list[str], dict[str, str]]:
    """The command that runs ``command`` with the script at ``path`` replaced by its submitted
    ``text`` (the first ``path`` in ``command`` is the script's place), and the variable that
    carries the text to the launcher."""
    at = list(command).index(path)
    words = [*command[:at], *command[at + 1 :]]
    return ["/bin/sh", "-c", _LAUNCHER, "aitc-batch", str(at), *words], {SCRIPT_ENV: text}
