"""A job's environment, built from an allow-list: the one place both executors take it from.

Nothing of the server's own environment reaches a job except a few harmless locale settings:
not its ``PATH``, not its tokens, not ``AITC_*``. A job gets, in this order (later wins):

1. the member's login basics: ``HOME``, ``USER``, ``LOGNAME``, ``SHELL`` of their Unix account and
   a standard ``PATH``;
2. the locale of the server (``LANG``, ``LC_*``, ``TZ``), so messages read the same;
3. the job's own ``env`` as submitted: anything, ``LD_PRELOAD`` and ``PATH`` included, because it
   applies to that member's job only (the server never runs a program with it);
4. aitc's variables (``AITC_JOB_ID``, ``CUDA_VISIBLE_DEVICES``, ...), which a member cannot
   override.

``secret_name`` says which variables are secrets: the API shows their values to their owner and
admins only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from aitc.control.accounts import Account

STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_LOCALE = re.compile(r"^(LANG|LANGUAGE|TZ|LC_[A-Z_]+)$")
_SECRET = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|PRIVATE)", re.I)


def login_basics(account: Account | None) -> dict[str, str]:
    """What a login shell of ``account`` starts with (the server's own user when None)."""
    if account is None:
        home = os.environ.get("HOME", "/")
        user = os.environ.get("USER") or os.environ.get("LOGNAME") or str(os.geteuid())
        return {
            "HOME": home,
            "USER": user,
            "LOGNAME": user,
            "SHELL": "/bin/sh",
            "PATH": STANDARD_PATH,
        }
    return {
        "HOME": account.home,
        "USER": account.name,
        "LOGNAME": account.name,
        "SHELL": account.shell,
        "PATH": STANDARD_PATH,
    }


def job_environment(
    *,
    account: Account | None,
    job_env: Mapping[str, str],
    aitc_vars: Mapping[str, str],
    server_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of one job (see the module docstring for the order)."""
    env = login_basics(account)
    source = os.environ if server_env is None else server_env
    env.update({k: v for k, v in source.items() if _LOCALE.match(k)})
    env.update(job_env)
    env.update(aitc_vars)
    return env


def secret_name(name: str) -> bool:
    """Whether a variable of this name holds a secret (``WANDB_API_KEY``, ``HF_TOKEN``, ...)."""
    return bool(_SECRET.search(name))


def masked(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the values of secrets replaced by ``***``."""
    return {k: "***" if secret_name(k) else v for k, v in env.items()}
