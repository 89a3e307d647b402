"""Starting or joining a Ray cluster for a grid (the ``[ray]`` extra)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dataenvgym.errors import ConfigError

#: Where Ray reads a cluster's authentication from (besides ``~/.ray/auth_token``).
AUTH_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


@contextmanager
def ray_session(
    address: str | None = None,
    num_cpus: int | None = None,
    env_vars: dict[str, str] | None = None,
) -> Iterator[Any]:
    """``ray.init`` for a grid, and ``ray.shutdown`` after.

    ``env_vars`` are set in every Ray worker of the session (numerics caps, torch threads).

    Without ``address`` a private local cluster is started, listening on loopback only. Ray
    2.59+ turns token authentication on for it and writes the token to
    ``~/.ray/auth_token``; unless you set
    ``RAY_AUTH_MODE``/``RAY_AUTH_TOKEN``/``RAY_AUTH_TOKEN_PATH`` yourself, the grid instead
    hands the cluster a fresh random token through the environment: authentication stays on,
    nothing is written to your home folder, and it works where that folder is read-only.
    With ``address`` the cluster's own token is needed (``RAY_AUTH_TOKEN``,
    ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``, as Ray reads them).
    """
    import importlib.util
    import sys

    if importlib.util.find_spec("ray") is None:
        raise ConfigError(
            "the ray executor needs Ray: pip install 'dataenvgym[ray]' (or use --executor local)"
        )
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    own_token = address is None and not any(os.environ.get(k) for k in AUTH_VARIABLES)
    imported_before = "ray" in sys.modules
    if own_token:
        # Before `import ray`: Ray reads the auth settings once, when it loads.
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    import ray

    if imported_before and (own_token or any(os.environ.get(k) for k in AUTH_VARIABLES)):
        # An earlier session of this process may have read other auth settings.
        _reload_ray_auth()
    workers_env = dict(env_vars or {})
    if address is None:
        # A private cluster's workers find the same base-student cache as this process.
        workers_env |= {k: os.environ[k] for k in ("DATAENVGYM_CACHE",) if k in os.environ}
    # A private cluster binds to loopback: nothing of it is reachable from other machines.
    local: dict[str, Any] = {}
    if address is None:
        local = {"num_cpus": num_cpus, "_node_ip_address": "127.0.0.1"}
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            runtime_env={"env_vars": workers_env} if workers_env else None,
            log_to_driver=False,
            **local,
        )
    except Exception as err:  # Ray raises ConnectionError, RuntimeError, ... for one cause
        _restore(saved)
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise ConfigError(
            f"could not start or join {where} ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); check the address, and for a "
            "token-authenticated cluster set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH to its token"
        ) from err
    try:
        yield ray
    finally:
        ray.shutdown()
        _restore(saved)


def _reload_ray_auth() -> None:
    """Make an already imported Ray read the auth settings again (its own tests do so)."""
    import importlib

    raylet = importlib.import_module("ray._raylet")
    if hasattr(raylet, "AuthenticationTokenLoader"):  # Ray >= 2.52
        raylet.Config.initialize("")
        raylet.AuthenticationTokenLoader.instance().reset_cache()


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
