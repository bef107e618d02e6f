"""The environment a private local head shares with every process (no Ray started)."""

from raytrain.local_ray import LOCAL_TRAIN_DEFAULTS, head_command, shared_env, split_worker_env


def test_shared_env_has_address_token_and_train_defaults() -> None:
    env = shared_env("10.0.0.1:6380", {})
    assert env["RAY_ADDRESS"] == "10.0.0.1:6380"
    assert env["RAY_AUTH_MODE"] == "token"
    assert len(env["RAY_AUTH_TOKEN"]) == 64
    assert env["RAY_TRAIN_ENABLE_PREEMPTION_WATCHER"] == "0"
    assert env["RAY_TRAIN_METRICS_ENABLED"] == "0"


def test_shared_env_tokens_differ_per_run() -> None:
    assert shared_env("a:1", {})["RAY_AUTH_TOKEN"] != shared_env("a:1", {})["RAY_AUTH_TOKEN"]


def test_user_setting_wins_over_train_defaults() -> None:
    user = {"RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "1"}
    env = shared_env("a:1", user)
    assert "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER" not in env  # inherited from the user instead
    assert set(env) >= set(LOCAL_TRAIN_DEFAULTS) - set(user)


def test_head_command_keeps_dashboard_on_localhost() -> None:
    cmd = head_command("10.0.0.1", 6380, 8265, 2, None, 52366)
    assert "--include-dashboard=true" in cmd and "--dashboard-host=127.0.0.1" in cmd
    assert "--num-cpus=2" in cmd and not any(a.startswith("--num-gpus") for a in cmd)


def test_free_port_is_bindable_outside_the_ephemeral_range_and_not_a_ray_default(
    monkeypatch,
) -> None:
    import socket

    from raytrain import local_ray

    port = local_ray.free_port()
    assert local_ray.OWN_PORTS_LOW <= port < local_ray._ephemeral_low()
    with socket.socket() as busy:
        busy.bind(("", port))
        busy.listen()
        # a Ray default, then the port in use, then a free one
        draws = iter([52365, port, port + 1])

        class Draws:
            def randrange(self, low: int, high: int) -> int:
                return next(draws)

        monkeypatch.setattr(local_ray.random, "SystemRandom", Draws)
        monkeypatch.setattr(local_ray, "_ephemeral_low", lambda: 65535)
        assert local_ray.free_port() == port + 1


def test_a_private_heads_workers_get_the_env_vars_without_a_runtime_env() -> None:
    """An env-vars-only runtime_env (the local case of `user_code_runtime_env`) leaves no
    job-level runtime_env: workers inherit the head's environment instead (no setup_worker,
    and Ray's prestarted workers match)."""
    env = {"env_vars": {"PYTHONPATH": "/code", "X": 1}}
    assert split_worker_env(env) == ({"PYTHONPATH": "/code", "X": "1"}, {})
    remote = {"env_vars": {"X": "1"}, "py_modules": ["/code/mod"]}
    assert split_worker_env(remote) == ({"X": "1"}, {"py_modules": ["/code/mod"]})
    assert split_worker_env({}) == ({}, {})
